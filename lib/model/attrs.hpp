#pragma once
// Reading the evaluated deployment (JSON from Nix) with errors that name the attribute
// path at fault, e.g. `machines.web.ssh.port: expected an integer, got a string`.
#include "core/error.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fedi::model {

// A view of one attribute set at a known path. Every attribute read through it is
// marked as known; finish() then rejects any attribute nobody asked for.
class AttrSet {
  public:
    AttrSet(const nlohmann::json& value, std::string path);

    const std::string& path() const { return path_; }
    bool has(const std::string& name) const;
    std::string child_path(const std::string& name) const;
    const nlohmann::json* get(const std::string& name); // marks the name as known

    std::string required_string(const std::string& name);
    std::optional<std::string> optional_string(const std::string& name);
    // A string or a Nix path (e.g. `./key`), returned as an absolute file name.
    std::optional<std::string> optional_file(const std::string& name);
    std::optional<long long> optional_int(const std::string& name, long long min, long long max);
    std::optional<bool> optional_bool(const std::string& name);
    std::vector<std::string> string_list(const std::string& name);
    AttrSet required_set(const std::string& name);
    std::optional<AttrSet> optional_set(const std::string& name);

    // Throws for the first attribute that was never read, listing the known ones.
    void finish() const;

    [[noreturn]] void fail(const std::string& name, const std::string& message) const;

  private:
    const nlohmann::json& value_;
    std::string path_;
    std::set<std::string> known_;
};

// "a string", "an integer", "a derivation", ... for messages.
std::string describe_value(const nlohmann::json& v);
bool is_derivation(const nlohmann::json& v);

} // namespace fedi::model
