// The `existing` provider: a machine that is already there, given by address and host
// key. Provisioning records it (so that resources.machines.<name> carries its address);
// destroying only forgets it.
#include "provider/existing.hpp"

#include "state/state.hpp"

#include <fmt/format.h>
#include <regex>

namespace fedi::provider {

namespace {

struct ExistingProviderSettings : ProviderSettings {
    nlohmann::json to_json() const override { return {{"type", "existing"}}; }
};

struct ExistingMachineSettings : MachineSettings {
    Outputs outputs;
    nlohmann::json to_json() const override { return provider::to_json(outputs); }
};

const ExistingMachineSettings& settings_of(const Request& req) {
    return settings_as<ExistingMachineSettings>(req, "an existing provider");
}

class ExistingProvider : public Provider {
  public:
    std::optional<Record> read(const Request&, const std::optional<Record>& rec) override {
        return rec;
    }
    Plan diff(const Request& req, const Record& rec) override {
        const auto& want = settings_of(req).outputs;
        Plan plan;
        const auto& now = rec.outputs;
        if (now.host != want.host)
            plan.changes.push_back({"host", now.host, want.host});
        if (now.port != want.port)
            plan.changes.push_back({"port", std::to_string(now.port), std::to_string(want.port)});
        if (now.user != want.user)
            plan.changes.push_back({"user", now.user, want.user});
        if (now.host_keys != want.host_keys)
            plan.changes.push_back({"host key", now.host_keys.empty() ? "none" : now.host_keys[0],
                                    want.host_keys.empty() ? "none" : want.host_keys[0]});
        return plan;
    }
    Record create(const Request& req) override {
        Record rec;
        rec.type = "existing";
        rec.created = state::now_utc();
        return update(req, rec, {});
    }
    Record update(const Request& req, const Record& rec, const Plan&) override {
        auto out = rec;
        out.outputs = settings_of(req).outputs;
        out.id = fmt::format("{}:{}", out.outputs.host, out.outputs.port);
        out.complete = true;
        out.protect = req.protect;
        return out;
    }
    void destroy(const Record&) override {}
    std::string describe(const Record& rec) const override {
        return fmt::format("the existing machine at {} (fedi only forgets it; the machine "
                           "itself stays)",
                           rec.id);
    }
};

std::shared_ptr<const ProviderSettings> parse_existing_provider(model::AttrSet& a) {
    a.finish();
    return std::make_shared<ExistingProviderSettings>();
}

std::shared_ptr<const MachineSettings>
parse_existing_machine(model::AttrSet& a, const ProviderSettings&, const std::string&) {
    auto s = std::make_shared<ExistingMachineSettings>();
    s->outputs.host = a.required_string("host");
    if (s->outputs.host.empty())
        a.fail("host", "must not be empty");
    s->outputs.port = static_cast<int>(a.optional_int("port", 1, 65535).value_or(22));
    s->outputs.user = a.optional_string("user").value_or("root");
    if (auto key = a.optional_string("hostKey")) {
        static const std::regex key_re(
            R"(^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=*( .*)?$)");
        if (!std::regex_match(*key, key_re))
            a.fail("hostKey", "expected an OpenSSH public key such as \"ssh-ed25519 AAAA...\"");
        auto blob_end = key->find(' ', key->find(' ') + 1);
        s->outputs.host_keys.push_back(key->substr(0, blob_end));
    }
    a.finish();
    return s;
}

} // namespace

ProviderType existing_type() {
    // Nothing to make: the machine is there already.
    auto make = [](const ProviderSettings&, const Context&) -> std::unique_ptr<Provider> {
        return std::make_unique<ExistingProvider>();
    };
    return {{"existing", parse_existing_provider, parse_existing_machine},
            "machines that already exist, given by address and host key",
            make};
}

} // namespace fedi::provider
