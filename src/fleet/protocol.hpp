// Both ends of the agent protocol's framing (docs/specs/agent-protocol.md): the greeting, the
// numbering of requests, events and replies, and error replies. The controller (Fleet) and the
// agent (app::serve_agent) both build and read their lines here, so the two ends cannot drift
// apart. What a request's op means is the business of app/ on both ends. Pure functions over
// text, implemented in protocol_json.cpp (the only fleet file that includes nlohmann).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "fleet/agent_binary.hpp"

namespace shipshape::fleet {

// The protocol this build speaks. Both ends check it: the controller starts the agent with
// `agent --protocol N`, the agent greets with its own number (and ends after its greeting when
// the two differ), and the controller replaces an agent of another protocol by copying its own.
// Agents before this number greeted without one: protocol 1.
inline constexpr int k_protocol_version = 2;

// ---- the agent's side

// The first line an agent writes (without "\n"):
// {"agent":"shipshape","protocol":2,"version":…,"hash":…,"pid":…}.
std::string greeting_line(const AgentBinary& self, long long pid);

// The "id" of a request line as JSON text ("null" when it has none), or nullopt when the line
// is not a JSON object.
std::optional<std::string> request_id(std::string_view line);

// `reply` (a JSON object) with "id" set to `id` (JSON text), as one line without "\n".
std::string reply_line(std::string_view reply, std::string_view id);

// An output event of request `id`: {"id":…,"event":"output","data":…}; invalid UTF-8 in `data`
// is replaced.
std::string output_event_line(std::string_view id, std::string_view data);

// {"ok":false,"error":{"code":…,"message":…}}: a refused request.
std::string error_reply(const Error& error);

// ---- the controller's side

// `request` (a JSON object without "id") numbered `id`, as one line ending in "\n".
std::string request_line(long long id, std::string_view request);

// Whether `line` is an agent's greeting.
bool is_greeting(std::string_view line);
// The protocol a greeting names (1 when it names none: agents before protocol 2).
int greeting_protocol(std::string_view line);

enum class FrameKind { event, reply, not_json };
struct Frame {
    FrameKind kind = FrameKind::not_json;
    long long id = -1;  // -1 when the line has no integer id
};
// What a line from the agent is: an event (it has "event"), a reply (any other object) or not
// JSON at all.
Frame read_frame(std::string_view line);

// The output text of an output event line; nullopt for other events.
std::optional<std::string> output_of_event(std::string_view line);

// A reply line with "ok": true as itself; "ok": false as its error (the agent's code and
// message); a line that is not JSON as Errc::io "the agent's reply is not JSON".
[[nodiscard]] Result<std::string> reply_result(std::string_view line);

}  // namespace shipshape::fleet
