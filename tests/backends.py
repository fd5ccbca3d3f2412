"""What the drain tests run against: the fake CPA of fake_cpa.py, or the real Redis
server on 127.0.0.1:6379 made to route records the way CPA does."""

import json
import time

import redis

REDIS_TEST_KEY = "cpa-usage-test-key"


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    """Poll until predicate() is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class RealRedis:
    """The machine's Redis, password-protected for the duration of a test (CPA always
    requires AUTH), publishing like CPA: to subscribers when there are any, else to
    the list that LPOP drains."""

    host, port, key = "127.0.0.1", 6379, REDIS_TEST_KEY

    def __init__(self, queue_key: str = "usage"):
        self.queue_key = queue_key
        # The password as it was, to put back at the end; None: someone else's run (or an
        # interrupted one) protected it with our key, so leave that to them.
        self.previous_password = None
        try:
            admin = redis.Redis(host=self.host, port=self.port, protocol=2, socket_timeout=5)
            self.previous_password = admin.config_get("requirepass").get("requirepass", "")
            admin.config_set("requirepass", self.key)
        except redis.AuthenticationError:  # protected already: by a concurrent or an interrupted run
            admin = redis.Redis(host=self.host, port=self.port, password=self.key, protocol=2, socket_timeout=5)
        except redis.ConnectionError as exc:
            raise AssertionError(f"the drain tests need Redis on {self.host}:{self.port}: {exc}") from exc
        self.admin = redis.Redis(host=self.host, port=self.port, password=self.key, protocol=2, socket_timeout=5)
        self.admin.delete(queue_key)
        admin.close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def publish(self, payload) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        if self.subscriber_count():
            self.admin.publish(self.queue_key, data)
        else:
            self.admin.rpush(self.queue_key, data)

    def queue_len(self) -> int:
        return self.admin.llen(self.queue_key)

    def subscriber_count(self) -> int:
        return dict(self.admin.pubsub_numsub(self.queue_key)).get(self.queue_key.encode(), 0)

    def close(self) -> None:
        self.admin.delete(self.queue_key)
        if self.previous_password is not None:
            self.admin.config_set("requirepass", self.previous_password)
        self.admin.close()
