// What a machine prints for fedi to read: the secrets directory listing, the secret
// sync's report, the system status lines and mastodon-tootctl's new password. The
// machine may be compromised or just odd (file names with newlines, localised tools).
#include "account/services.hpp"
#include "fuzz.hpp"
#include "host/host.hpp"
#include "host/secrets.hpp"

using namespace fedi;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto out = fuzz::bytes(data, size);
    fuzz::refused_or_parsed([&] {
        for (const auto& info : host::parse_secret_list(out))
            fuzz::check(info.name.find('/') == std::string::npos, "secret name with a '/'");
    });
    fuzz::refused_or_parsed([&] { host::parse_secret_sync_output(out); });
    fuzz::refused_or_parsed([&] {
        auto s = host::parse_system_status(out);
        fuzz::check(s.profile.empty() || s.profile.rfind("/nix/store/", 0) == 0,
                    "profile outside the store");
        fuzz::check(s.current.empty() || s.current.rfind("/nix/store/", 0) == 0,
                    "current system outside the store");
    });
    fuzz::refused_or_parsed([&] { account::parse_mastodon_password(out); });
    return 0;
}
