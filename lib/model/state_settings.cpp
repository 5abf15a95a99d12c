#include "model/state_settings.hpp"

#include "model/attrs.hpp"

#include <filesystem>
#include <fmt/format.h>

namespace fedi::model {

namespace {

// A file relative to the deployment's directory, or a URL of a backend fedi knows.
std::string parse_url(AttrSet& state, const std::string& base_dir) {
    auto url = *state.optional_file("url");
    auto scheme_end = url.find("://");
    if (scheme_end != std::string::npos) {
        auto scheme = url.substr(0, scheme_end);
        if (scheme != "postgresql" && scheme != "postgres" && scheme != "s3")
            state.fail("url", fmt::format("unknown kind of state location \"{}://\" (expected "
                                          "postgresql://…, s3://… or a file)",
                                          scheme));
        return url;
    }
    if (url.empty())
        state.fail("url", "expected a URL or a file name, got an empty string");
    return (std::filesystem::path(base_dir) / url).lexically_normal().string();
}

StateEncryption parse_encryption(AttrSet enc, const std::string& base_dir) {
    StateEncryption out;
    out.recipients = enc.string_list("recipients");
    for (std::size_t i = 0; i < out.recipients.size(); ++i)
        if (!valid_age_recipient(out.recipients[i]))
            enc.fail(fmt::format("recipients.{}", i),
                     fmt::format("expected an age X25519 public key (age1… as age-keygen prints "
                                 "it), got \"{}\"",
                                 out.recipients[i]));
    if (auto file = enc.optional_file("identityFile"))
        out.identity_file = (std::filesystem::path(base_dir) / *file).lexically_normal().string();
    enc.finish();
    return out;
}

// "postgresql://user:***@host/db" for "postgresql://user:secret@host/db".
std::string mask_password(const std::string& url) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos)
        return url;
    auto authority_start = scheme_end + 3;
    auto at = url.find('@', authority_start);
    auto slash = url.find('/', authority_start);
    if (at == std::string::npos || (slash != std::string::npos && slash < at))
        return url;
    auto colon = url.find(':', authority_start);
    if (colon == std::string::npos || colon > at)
        return url;
    return url.substr(0, colon + 1) + "***" + url.substr(at);
}

} // namespace

StateSettings parse_state_settings(const nlohmann::json& value, const std::string& path,
                                   const std::string& base_dir) {
    AttrSet state(value, path);
    StateSettings out;
    if (state.has("url") && !state.get("url")->is_null())
        out.url = parse_url(state, base_dir);
    if (auto enc = state.optional_set("encryption"))
        out.encryption = parse_encryption(*enc, base_dir);
    out.allow_plaintext = state.optional_bool("allowPlaintext").value_or(false);
    state.finish();
    return out;
}

nlohmann::json to_json(const StateSettings& s) {
    nlohmann::json enc = {{"recipients", s.encryption.recipients}};
    enc["identityFile"] =
        s.encryption.identity_file ? nlohmann::json(*s.encryption.identity_file) : nullptr;
    nlohmann::json j = {{"encryption", enc}, {"allowPlaintext", s.allow_plaintext}};
    j["url"] = s.url ? nlohmann::json(mask_password(*s.url)) : nullptr;
    return j;
}

bool valid_age_recipient(const std::string& text) {
    static const std::string bech32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    if (text.size() != 62 || text.rfind("age1", 0) != 0)
        return false;
    return text.find_first_not_of(bech32, 4) == std::string::npos;
}

} // namespace fedi::model
