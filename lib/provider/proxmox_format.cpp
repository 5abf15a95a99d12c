#include "provider/proxmox_format.hpp"

#include "core/text.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fedi::provider::pve {
namespace {

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

// Proxmox messages end in a newline and may span lines (property-string errors).
std::string one_line(std::string_view text) {
    std::string out;
    bool newline = false;
    for (char c : trim(text)) {
        if (c == '\n' || c == '\r') {
            newline = true;
            continue;
        }
        if (newline)
            out += "; ";
        newline = false;
        out += c;
    }
    return out;
}

} // namespace

std::string form_encode(const Form& form) {
    std::string out;
    for (const auto& [key, value] : form) {
        if (!out.empty())
            out += '&';
        out += percent_encode(key);
        out += '=';
        out += percent_encode(value);
    }
    return out;
}

std::string encode_sshkeys(const std::vector<std::string>& keys) {
    std::string text;
    for (const auto& key : keys) {
        auto k = trim(key);
        if (k.empty())
            continue;
        if (k.find_first_of("\r\n") != std::string_view::npos)
            throw usage_error(
                fmt::format("SSH key '{}' spans more than one line", k.substr(0, 40)));
        if (!text.empty())
            text += '\n';
        text += k;
    }
    return percent_encode(text);
}

std::vector<std::string> decode_sshkeys(std::string_view value) {
    std::vector<std::string> keys;
    std::istringstream in(percent_decode(value));
    for (std::string line; std::getline(in, line);) {
        auto k = trim(line);
        if (!k.empty())
            keys.emplace_back(k);
    }
    return keys;
}

Upid parse_upid(std::string_view text) {
    // PVE::UPID's pattern; pstart has 9 digits on hosts up long enough.
    static const std::regex re(
        "^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
        "([0-9A-Fa-f]{8}):([^:\\s]+):([^:\\s]*):([^:\\s]+):$");
    std::string s(text);
    std::smatch m;
    if (!std::regex_match(s, m, re))
        throw Error(fmt::format("'{}' is not a Proxmox task id (UPID)", text));
    Upid upid;
    upid.node = m[1];
    upid.pid = static_cast<std::uint32_t>(std::stoul(m[3], nullptr, 16));
    upid.pstart = std::stoull(m[4], nullptr, 16);
    upid.starttime = static_cast<std::uint32_t>(std::stoul(m[5], nullptr, 16));
    upid.type = m[6];
    upid.id = m[7];
    upid.user = m[8];
    return upid;
}

TokenId parse_token(std::string_view text, std::string_view source) {
    auto token = trim(text);
    if (token.rfind("PVEAPIToken=", 0) == 0)
        token.erase(0, 12);
    // pve-access-control: user name [^\s:/]+, realm and token id [A-Za-z][A-Za-z0-9.\-_]+.
    static const std::regex re(
        "^([^\\s:/]+@[A-Za-z][A-Za-z0-9.\\-_]+)!([A-Za-z][A-Za-z0-9.\\-_]+)=([\\x21-\\x7e]+)$");
    std::smatch m;
    if (!std::regex_match(token, m, re))
        throw usage_error(fmt::format(
            "the Proxmox API token from {} is malformed: expected USER@REALM!TOKENID=SECRET "
            "(for example root@pam!fedi=xxxxxxxx-xxxx-...)",
            source));
    return {m[1], m[2]};
}

std::string describe_token_source(const std::optional<std::string>& file,
                                  const std::optional<std::string>& env_var) {
    if (file)
        return "tokenFile " + *file;
    if (env_var)
        return "environment variable " + *env_var;
    return "the deployment (no tokenFile or token variable given)";
}

std::string read_token(const std::optional<std::string>& file,
                       const std::optional<std::string>& env_var) {
    auto source = describe_token_source(file, env_var);
    std::string text;
    if (file) {
        std::ifstream in(*file, std::ios::binary);
        if (!in)
            throw usage_error(fmt::format("cannot read the Proxmox API token from {}: {}", source,
                                          std::strerror(errno)));
        std::ostringstream buf;
        buf << in.rdbuf();
        text = buf.str();
    } else if (env_var) {
        const char* value = std::getenv(env_var->c_str());
        if (!value)
            throw usage_error(fmt::format("{} is not set (it should hold the Proxmox API token "
                                          "USER@REALM!TOKENID=SECRET)",
                                          source));
        text = value;
    } else {
        throw usage_error("no Proxmox API token: give tokenFile (a file holding "
                          "USER@REALM!TOKENID=SECRET) or a token environment variable");
    }
    auto token = trim(text);
    if (token.empty())
        throw usage_error(fmt::format("the Proxmox API token from {} is empty", source));
    if (token.find_first_of("\r\n") != std::string_view::npos)
        throw usage_error(fmt::format(
            "the Proxmox API token from {} has more than one line; it should be one line "
            "USER@REALM!TOKENID=SECRET",
            source));
    parse_token(token, source);
    return token;
}

std::string api_base_url(std::string_view endpoint) {
    auto e = trim(endpoint);
    if (lower(e).rfind("https://", 0) != 0)
        throw usage_error(fmt::format(
            "Proxmox endpoint '{}' must start with https:// (the API token must not travel "
            "in clear text)",
            e));
    while (!e.empty() && e.back() == '/')
        e.pop_back();
    static const std::string suffix = "/api2/json";
    if (e.size() >= suffix.size() &&
        e.compare(e.size() - suffix.size(), suffix.size(), suffix) == 0)
        e.resize(e.size() - suffix.size());
    if (e.size() <= 8)
        throw usage_error(fmt::format("Proxmox endpoint '{}' names no host", endpoint));
    return e + suffix;
}

std::string describe_reply(long status, std::string_view reason, std::string_view body) {
    std::string message;
    std::string errors;
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) {
        if (auto m = doc.find("message"); m != doc.end() && m->is_string())
            message = one_line(m->get<std::string>());
        if (auto e = doc.find("errors"); e != doc.end() && e->is_object()) {
            for (const auto& [param, text] : e->items()) {
                if (!errors.empty())
                    errors += "; ";
                errors += param + ": " +
                          one_line(text.is_string() ? text.get<std::string>() : text.dump());
            }
        }
    }
    if (message.empty())
        message = one_line(reason);
    if (!errors.empty()) {
        while (!message.empty() && (message.back() == '.' || message.back() == ':'))
            message.pop_back();
        message = message.empty() ? errors : message + ": " + errors;
    }
    return message.empty() ? std::to_string(status) : fmt::format("{} {}", status, message);
}

bool is_lock_timeout(std::string_view message) {
    // qemu-server's config lock, and pmxcfs cluster locks (storage allocation).
    return (contains(message, "can't lock file") && contains(message, "got timeout")) ||
           contains(message, "got lock request timeout");
}

bool is_already_exists(std::string_view message) {
    return contains(message, "already exists");
}

bool is_agent_not_ready(std::string_view message) {
    return contains(message, "QEMU guest agent is not running") ||
           (contains(message, "qmp command 'guest-") && contains(message, "failed"));
}

bool json_bool(const nlohmann::json& value, bool fallback) {
    if (value.is_boolean())
        return value.get<bool>();
    if (value.is_number())
        return value.get<double>() != 0;
    if (value.is_string()) {
        auto s = value.get<std::string>();
        if (s == "1" || s == "true")
            return true;
        if (s == "0" || s == "false" || s.empty())
            return false;
    }
    return fallback;
}

std::int64_t json_int(const nlohmann::json& value, std::int64_t fallback) {
    if (value.is_number_integer())
        return value.get<std::int64_t>();
    if (value.is_number()) {
        // Casting a float outside int64's range is undefined: such a number is no answer.
        double d = value.get<double>();
        if (d >= -9.2e18 && d <= 9.2e18)
            return static_cast<std::int64_t>(d);
        return fallback;
    }
    if (value.is_string()) {
        const auto& s = value.get_ref<const std::string&>();
        char* end = nullptr;
        errno = 0;
        long long v = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && end && *end == '\0' && errno == 0)
            return v;
    }
    return fallback;
}

std::string json_string(const nlohmann::json& value) {
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_null())
        return "";
    return value.dump();
}

std::vector<GuestInterface> parse_guest_interfaces(const nlohmann::json& data) {
    std::vector<GuestInterface> out;
    const auto* list = &data;
    if (data.is_object() && data.contains("result"))
        list = &data["result"];
    if (!list->is_array())
        throw Error("the guest agent's interface list is not a list");
    for (const auto& item : *list) {
        if (!item.is_object())
            continue;
        GuestInterface iface;
        iface.name = json_string(item.value("name", nlohmann::json()));
        iface.mac = lower(json_string(item.value("hardware-address", nlohmann::json())));
        if (auto a = item.find("ip-addresses"); a != item.end() && a->is_array()) {
            for (const auto& addr : *a) {
                if (!addr.is_object() || !addr.contains("ip-address"))
                    continue;
                GuestAddress ga;
                ga.ip = json_string(addr["ip-address"]);
                ga.family =
                    json_string(addr.value("ip-address-type", nlohmann::json())) == "ipv6" ||
                            ga.ip.find(':') != std::string::npos
                        ? 6
                        : 4;
                ga.prefix = static_cast<int>(json_int(addr.value("prefix", nlohmann::json()), 0));
                iface.addresses.push_back(std::move(ga));
            }
        }
        out.push_back(std::move(iface));
    }
    return out;
}

std::optional<std::string> pick_guest_address(const std::vector<GuestInterface>& interfaces,
                                              const std::optional<std::string>& mac) {
    // Lower is better: (not global, not net0's MAC, address class, order).
    struct Candidate {
        int global, other_mac, cls;
        std::size_t order;
        std::string ip;
    };
    std::vector<Candidate> candidates;
    auto want_mac = mac ? lower(*mac) : std::string();
    std::size_t order = 0;
    for (const auto& iface : interfaces) {
        if (iface.name == "lo")
            continue;
        int other_mac = want_mac.empty() || iface.mac != want_mac ? 1 : 0;
        for (const auto& a : iface.addresses) {
            auto ip = lower(a.ip);
            int cls;
            if (a.family == 4) {
                if (ip.rfind("127.", 0) == 0)
                    cls = 2;
                else if (ip.rfind("169.254.", 0) == 0)
                    cls = 3;
                else if (ip == "0.0.0.0")
                    continue;
                else
                    cls = 0;
            } else {
                // ::1 and link-local (fe80::/10, unusable without a scope) are no answer.
                if (ip == "::1" || ip.rfind("fe8", 0) == 0 || ip.rfind("fe9", 0) == 0 ||
                    ip.rfind("fea", 0) == 0 || ip.rfind("feb", 0) == 0)
                    continue;
                cls = 1;
            }
            candidates.push_back({cls <= 1 ? 0 : 1, other_mac, cls, order++, a.ip});
        }
    }
    if (candidates.empty())
        return std::nullopt;
    auto best = std::min_element(candidates.begin(), candidates.end(), [](auto& x, auto& y) {
        return std::tie(x.global, x.other_mac, x.cls, x.order) <
               std::tie(y.global, y.other_mac, y.cls, y.order);
    });
    return best->ip;
}

std::optional<std::string> mac_of_net(std::string_view net) {
    static const std::regex mac_re("^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$");
    std::size_t pos = 0;
    while (pos <= net.size()) {
        auto comma = net.find(',', pos);
        auto part =
            net.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        if (auto eq = part.find('='); eq != std::string_view::npos) {
            std::string value(part.substr(eq + 1));
            if (std::regex_match(value, mac_re))
                return lower(value);
        }
        if (comma == std::string_view::npos)
            break;
        pos = comma + 1;
    }
    return std::nullopt;
}

} // namespace fedi::provider::pve
