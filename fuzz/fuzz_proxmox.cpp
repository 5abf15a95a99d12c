// Proxmox VE API answers: error replies, task ids, the guest agent's interface list
// and the loose booleans and numbers Proxmox sends, through the client's pure parts
// (provider/proxmox_format).
#include "fuzz.hpp"
#include "provider/proxmox_format.hpp"

#include <nlohmann/json.hpp>

using namespace fedi;
using namespace fedi::provider::pve;
using nlohmann::json;

namespace {

// Every value of the document through the loose readers, as the client reads fields.
void read_values(const json& j, int depth) {
    json_bool(j);
    json_int(j);
    json_string(j);
    if (depth > 8 || !j.is_structured())
        return;
    for (const auto& item : j)
        read_values(item, depth + 1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto body = fuzz::bytes(data, size);
    describe_reply(500, "Internal Server Error", body);
    fuzz::refused_or_parsed([&] { parse_upid(body); });
    decode_sshkeys(body);
    mac_of_net(body);

    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded())
        return 0;
    read_values(j, 0);
    fuzz::refused_or_parsed([&] {
        auto interfaces = parse_guest_interfaces(j);
        pick_guest_address(interfaces);
        pick_guest_address(interfaces, std::string("bc:24:11:aa:bb:cc"));
    });
    if (j.is_object())
        if (auto d = j.find("data"); d != j.end() && d->is_string())
            fuzz::refused_or_parsed([&] { parse_upid(d->get<std::string>()); });
    return 0;
}
