#pragma once
#include "core/text.hpp"
// The pure parts of the Proxmox VE API client: form and sshkeys encoding, UPIDs, API
// tokens, error texts, and picking a guest's address. No network here, so all of it is
// unit-tested on its own.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fedi::provider::pve {

// Request parameters in the order they are sent. Values are plain text; encoding is done
// when the request is built.
using Form = std::vector<std::pair<std::string, std::string>>;

// Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (so '=', '+', ',', ' ', '/', '%'
// are all encoded: pveproxy cuts pairs at every raw '=' and reads '+' as a space).
using fedi::percent_encode;
// Decodes %XX escapes; '+' stays '+'. Malformed escapes are kept as they are.
using fedi::percent_decode;
// "k1=v1&k2=v2" with keys and values percent-encoded. Parameters with an empty value
// are sent too, although Proxmox treats them as absent.
std::string form_encode(const Form& form);

// The value for the `sshkeys` config option: Proxmox wants the keys text (one key a
// line) percent-encoded by the client, and form encoding then encodes it once more.
// Keys are trimmed; empty ones are dropped.
std::string encode_sshkeys(const std::vector<std::string>& keys);
// The keys from an `sshkeys` value as GET config returns it (still encoded).
std::vector<std::string> decode_sshkeys(std::string_view value);

// A task id: UPID:node:pid:pstart:starttime:type:id:user: (hex numbers).
struct Upid {
    std::string node;
    std::uint32_t pid = 0;
    std::uint64_t pstart = 0;
    std::uint32_t starttime = 0;
    std::string type; // qmclone, qmstart, ...
    std::string id;   // usually the VMID
    std::string user; // USER@REALM or USER@REALM!TOKENID
};
// Throws fedi::Error naming the text when it is not a UPID.
Upid parse_upid(std::string_view text);

// The public part of an API token USER@REALM!TOKENID=SECRET.
struct TokenId {
    std::string user;  // root@pam
    std::string token; // fedi
    std::string id() const { return user + "!" + token; }
};
// Checks the token's shape and returns its public part. A leading "PVEAPIToken=" (the
// header form) is accepted. Errors name `source` ("tokenFile /run/secrets/pve"), never
// the secret.
TokenId parse_token(std::string_view text, std::string_view source);
// Reads a token from `file` if given, else from the environment variable `env_var`;
// trims surrounding whitespace and checks the shape. Throws a usage error naming the
// file or variable (never the value) when it is missing, unreadable or malformed.
std::string read_token(const std::optional<std::string>& file,
                       const std::optional<std::string>& env_var);
// "tokenFile FILE" or "environment variable NAME", as read_token would read it; for
// PveConfig::token_source.
std::string describe_token_source(const std::optional<std::string>& file,
                                  const std::optional<std::string>& env_var);

// "https://pve1:8006" (optionally with /api2/json) -> "https://pve1:8006/api2/json".
// Plain http is refused: the token would travel in clear text.
std::string api_base_url(std::string_view endpoint);

// A Proxmox error reply as one line: "400 Parameter verification failed: newid: ...",
// "500 VM 105 is running - destroy failed", "401 invalid token value!". Uses the body's
// message and errors map when there is one, else the status line's reason.
std::string describe_reply(long status, std::string_view reason, std::string_view body);
// Error texts worth reacting to.
bool is_lock_timeout(std::string_view message);    // can't lock file '...' - got timeout
bool is_already_exists(std::string_view message);  // VM id taken by another creator
bool is_agent_not_ready(std::string_view message); // agent not (yet) answering

// Proxmox's booleans and numbers arrive as 0/1, true/false, numbers or numeric strings.
bool json_bool(const nlohmann::json& value, bool fallback = false);
std::int64_t json_int(const nlohmann::json& value, std::int64_t fallback = 0);
std::string json_string(const nlohmann::json& value);

// One network interface as the guest agent reports it.
struct GuestAddress {
    std::string ip;
    int family = 4; // 4 or 6
    int prefix = 0;
};
struct GuestInterface {
    std::string name;
    std::string mac; // as reported, lower case
    std::vector<GuestAddress> addresses;
};
// Parses agent/network-get-interfaces data ({"result": [...]}).
std::vector<GuestInterface> parse_guest_interfaces(const nlohmann::json& data);
// The address to reach the guest at. Interfaces named "lo" are skipped; an interface with
// MAC `mac` (net0's) is preferred. Per interface: global IPv4, then global IPv6, then
// other IPv4 (a 127/8 address on a real interface is still an answer), then link-local.
std::optional<std::string> pick_guest_address(const std::vector<GuestInterface>& interfaces,
                                              const std::optional<std::string>& mac = {});
// The MAC address in a netN option ("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0"), if any.
std::optional<std::string> mac_of_net(std::string_view net);

} // namespace fedi::provider::pve
