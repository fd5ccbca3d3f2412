// The conversation behind a request log: the request's messages and the final answer as
// turns by role, for the four request shapes CPA serves (Anthropic Messages, OpenAI Chat
// Completions, OpenAI Responses, Gemini contents), an SSE stream put back together from
// its deltas (text, thinking or reasoning, tool-call arguments). A part is
// {kind: text | thinking | tool_call | tool_result | image, text, name?, asset?}.

const ASSET = /^cpa-usage-asset:(\d+)$/;

function json(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Which of the four shapes a request is: by the endpoint CPA served (its log's URL),
 * else by the body's fields. */
export function protocolOf(url, request) {
  if (!request || typeof request !== "object") return null;
  const path = (url || "").split("?")[0];
  if (/\/messages$/.test(path)) return "anthropic";
  if (/\/chat\/completions$/.test(path)) return "chat";
  if (/\/responses$/.test(path)) return "responses";
  if (/:(stream)?generateContent$/i.test(path) || Array.isArray(request.contents)) return "gemini";
  if ("input" in request || "instructions" in request) return "responses";
  return Array.isArray(request.messages) ? "chat" : null;
}

const text = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));
const asset = (data) => (ASSET.test(data ?? "") ? Number(ASSET.exec(data)[1]) : null);

function anthropicParts(content) {
  if (typeof content === "string") return [{ kind: "text", text: content }];
  return (content || []).map((block) => {
    if (block.type === "text") return { kind: "text", text: block.text };
    if (block.type === "thinking") return { kind: "thinking", text: block.thinking };
    if (block.type === "tool_use") return { kind: "tool_call", name: block.name, text: text(block.input) };
    if (block.type === "tool_result") return { kind: "tool_result", text: text(block.content) };
    if (block.type === "image") return { kind: "image", asset: asset(block.source?.data), text: block.source?.media_type || "" };
    return { kind: "text", text: text(block) };
  });
}

function chatParts(message) {
  const parts = [];
  if (message.reasoning_content) parts.push({ kind: "thinking", text: message.reasoning_content });
  if (typeof message.content === "string" && message.content) parts.push({ kind: "text", text: message.content });
  for (const piece of Array.isArray(message.content) ? message.content : []) {
    if (piece.type === "image_url") {
      const url = piece.image_url?.url || "";
      parts.push({ kind: "image", asset: asset(url.split(",").pop()), text: url.startsWith("data:") ? "" : url });
    } else parts.push({ kind: "text", text: piece.text ?? text(piece) });
  }
  for (const call of message.tool_calls || []) parts.push({ kind: "tool_call", name: call.function?.name, text: call.function?.arguments ?? "" });
  return parts;
}

function geminiParts(parts) {
  return (parts || []).map((part) => {
    if (part.functionCall) return { kind: "tool_call", name: part.functionCall.name, text: text(part.functionCall.args) };
    if (part.functionResponse) return { kind: "tool_result", name: part.functionResponse.name, text: text(part.functionResponse.response) };
    if (part.inlineData) return { kind: "image", asset: asset(part.inlineData.data), text: part.inlineData.mimeType || "" };
    return { kind: part.thought ? "thinking" : "text", text: part.text ?? "" };
  });
}

function responsesParts(item) {
  if (item.type === "function_call") return [{ kind: "tool_call", name: item.name, text: item.arguments ?? "" }];
  if (item.type === "function_call_output") return [{ kind: "tool_result", text: text(item.output) }];
  if (item.type === "reasoning") return (item.summary || []).map((s) => ({ kind: "thinking", text: s.text }));
  const content = typeof item.content === "string" ? [{ type: "input_text", text: item.content }] : item.content || [];
  return content.map((piece) => (piece.type === "input_image"
    ? { kind: "image", asset: asset((piece.image_url || "").split(",").pop()), text: "" }
    : { kind: "text", text: piece.text ?? text(piece) }));
}

/** The turns of the request: [{role, parts}]. */
function requestTurns(protocol, request) {
  const turns = [];
  if (protocol === "anthropic") {
    if (request.system) turns.push({ role: "system", parts: anthropicParts(request.system) });
    for (const message of request.messages) turns.push({ role: message.role, parts: anthropicParts(message.content) });
  } else if (protocol === "chat") {
    for (const message of request.messages) turns.push({ role: message.role, parts: chatParts(message) });
  } else if (protocol === "gemini") {
    if (request.systemInstruction) turns.push({ role: "system", parts: geminiParts(request.systemInstruction.parts) });
    for (const content of request.contents) turns.push({ role: content.role === "model" ? "assistant" : content.role || "user", parts: geminiParts(content.parts) });
  } else {
    if (request.instructions) turns.push({ role: "system", parts: [{ kind: "text", text: request.instructions }] });
    const input = typeof request.input === "string" ? [{ role: "user", content: request.input }] : request.input || [];
    for (const item of input) {
      const role = item.type === "function_call" ? "assistant" : item.type === "function_call_output" ? "tool" : item.role || "user";
      turns.push({ role, parts: responsesParts(item) });
    }
  }
  return turns;
}

/** The data lines of an SSE stream, parsed (a line that is not JSON, like [DONE], left out). */
function sseData(body) {
  return body.split(/\r?\n/).filter((line) => line.startsWith("data:")).map((line) => json(line.slice(5).trim())).filter(Boolean);
}

/** Parts appended to by key: deltas of one block go to one part. */
function collector() {
  const parts = [];
  const byKey = new Map();
  return {
    parts,
    add(key, kind, delta, name) {
      let part = byKey.get(key);
      if (!part || part.kind !== kind) {
        part = { kind, text: "", name };
        byKey.set(key, part);
        parts.push(part);
      }
      if (name && !part.name) part.name = name;
      part.text += delta ?? "";
    },
  };
}

function streamedAnswer(protocol, events) {
  const out = collector();
  for (const event of events) {
    if (protocol === "anthropic") {
      const block = event.content_block;
      if (event.type === "content_block_start" && block) {
        const kind = block.type === "tool_use" ? "tool_call" : block.type === "thinking" ? "thinking" : "text";
        out.add(event.index, kind, block.text || block.thinking || "", block.name);
      } else if (event.type === "content_block_delta") {
        const { delta } = event;
        if (delta.type === "text_delta") out.add(event.index, "text", delta.text);
        else if (delta.type === "thinking_delta") out.add(event.index, "thinking", delta.thinking);
        else if (delta.type === "input_json_delta") out.add(event.index, "tool_call", delta.partial_json);
      }
    } else if (protocol === "chat") {
      const delta = event.choices?.[0]?.delta || {};
      if (delta.reasoning_content) out.add("reasoning", "thinking", delta.reasoning_content);
      if (delta.content) out.add("content", "text", delta.content);
      for (const call of delta.tool_calls || []) out.add(`tool${call.index}`, "tool_call", call.function?.arguments, call.function?.name);
    } else if (protocol === "responses") {
      if (event.type === "response.output_text.delta") out.add(event.item_id, "text", event.delta);
      else if (event.type === "response.reasoning_summary_text.delta" || event.type === "response.reasoning_text.delta") out.add(event.item_id, "thinking", event.delta);
      else if (event.type === "response.output_item.added" && event.item?.type === "function_call") out.add(event.item.id, "tool_call", "", event.item.name);
      else if (event.type === "response.function_call_arguments.delta") out.add(event.item_id, "tool_call", event.delta);
    } else {
      (event.candidates?.[0]?.content?.parts || []).forEach((part, i) => {
        if (part.functionCall) out.add(`call${out.parts.length}`, "tool_call", text(part.functionCall.args), part.functionCall.name);
        else if (typeof part.text === "string") out.add(part.thought ? "thought" : `text${i}`, part.thought ? "thinking" : "text", part.text);
      });
    }
  }
  return out.parts;
}

function wholeAnswer(protocol, answer) {
  if (protocol === "anthropic") return anthropicParts(answer.content);
  if (protocol === "chat") return chatParts(answer.choices?.[0]?.message || {});
  if (protocol === "responses") return (answer.output || []).flatMap(responsesParts);
  return geminiParts(answer.candidates?.[0]?.content?.parts);
}

/**
 * The conversation of a parsed log: {protocol, turns} (the answer the last turn, role
 * "assistant"), or null where the request body is not one of the four shapes.
 */
export function conversation(log) {
  const request = json(log.request?.body?.text || "");
  const protocol = protocolOf(log.info?.url, request);
  if (!protocol) return null;
  const turns = requestTurns(protocol, request);
  const body = log.response?.body?.text || "";
  const whole = json(body);
  const answer = whole ? wholeAnswer(protocol, Array.isArray(whole) ? whole[whole.length - 1] : whole)
    : streamedAnswer(protocol, sseData(body));
  if (answer.length) turns.push({ role: "assistant", parts: answer, answer: true });
  return { protocol, turns };
}
