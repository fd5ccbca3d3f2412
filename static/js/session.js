// Who is signed in, and which CPAs the events came from, as the shell learned them at
// sign-in. A member (a user of a shared CPA, signed in with their own client API key)
// sees only their own usage: fewer pages, no key or credential filters.

export const session = {
  member: null, // {api_key (masked), api_key_id, alias} of a member's session; null: the owner
  instances: [], // names of the CPAs the stored events came from
};

export function isMember() {
  return session.member !== null;
}

/** A member's name: their alias, else their masked key. */
export function memberName() {
  return session.member.alias || session.member.api_key;
}
