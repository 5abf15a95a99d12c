#pragma once
// The validated deployment: what the operator declared, checked and typed. Everything
// downstream (planning, deploying, status) works from this, never from raw JSON.
#include "model/accounts.hpp"
#include "model/cache_settings.hpp"
#include "model/provider_settings.hpp"
#include "model/secrets.hpp"
#include "model/state_settings.hpp"
#include "model/storage.hpp"

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fedi::model {

struct SshTarget {
    std::string host;
    int port = 22;
    std::string user = "root";
    std::optional<std::string> host_key;      // pinned "type base64"
    std::optional<std::string> identity_file; // private key on the deployer
};

// A system to run: the derivation that builds it and its output path.
struct SystemRef {
    std::string drv_path;
    std::string out_path;
    std::string name;
};

// A check that the machine works after activation: a command run on it, or an HTTP
// request from the deployer. Retried until it passes or its attempts run out.
struct HealthCheck {
    std::optional<std::string> command; // run on the machine; exit 0 is healthy
    std::optional<std::string> http;    // URL fetched from the deployer
    int expect_status = 200;            // for http
    int attempts = 5;
    int interval_seconds = 2;
    int timeout_seconds = 10;
    std::string describe() const;
};

// providers.<name>: where machines come from (settings typed by the provider type).
struct ProviderDecl {
    std::string name;
    std::string type; // existing, container, proxmox
    std::shared_ptr<const ProviderSettings> settings;
};

// machines.<name>.provision: how fedi makes the machine.
struct Provision {
    std::string provider; // a providers.<name>
    std::string type;
    std::shared_ptr<const MachineSettings> settings;
};

struct Machine {
    std::string name;
    // For a provisioned machine: filled from its outputs in state (see ssh_given).
    SshTarget ssh;
    std::optional<Provision> provision;
    std::set<std::string> ssh_given; // ssh attributes the deployment sets (they win)
    SystemRef system;
    std::vector<std::string> tags;
    std::vector<std::string> after; // machines that must activate first
    bool protect = false;
    std::vector<HealthCheck> health_checks;
    // Fetch what its own configured substituters have before fedi sends anything
    // (machines.<name>.substituteOnTarget; deploy --substitute-on-target for all).
    bool substitute_on_target = false;
};

// Something the deployment accepts but that an operator should hear about on every run
// (e.g. an endpoint that carries secrets over plain http).
struct Warning {
    std::string path; // attribute path, e.g. storage.s3.adminEndpoint
    std::string message;
};

struct Deployment {
    std::string file; // absolute path of deployment.nix
    std::vector<Warning> warnings;
    bool require_selection = false;
    StateSettings state; // meta.state
    std::map<std::string, ProviderDecl> providers;
    std::map<std::string, Machine> machines;
    std::map<std::string, Secret> secrets;
    std::map<std::string, Account> accounts;
    std::map<std::string, IdentityDirectory> identity;
    std::map<std::string, Storage> storage;
    std::map<std::string, Bucket> buckets;
    std::optional<CacheSettings> cache; // `cache`, when declared
};

// Validates the evaluated deployment (as produced by nix::evaluate_deployment). Throws a
// usage error naming the attribute path for unknown attributes, wrong types, missing
// fields, dangling references and dependency cycles. `types` reads the typed settings
// of each provider type (provider/provider.hpp has the overload that passes its registry).
Deployment parse_deployment(const nlohmann::json& evaluated, const std::string& file,
                            const ProviderParsers& types);

// The model as JSON, for `fedi eval` (stable field names, no secrets).
nlohmann::json to_json(const Deployment& d);

bool valid_machine_name(const std::string& name);

} // namespace fedi::model
