#include "plan/closure_diff.hpp"

#include <cctype>
#include <cstdlib>
#include <regex>
#include <set>

namespace fedi::plan {

namespace {

// "/nix/store/<hash>-<name>" → "<name>" (a bare name is kept).
std::string_view name_of(std::string_view store_path) {
    auto slash = store_path.rfind('/');
    if (slash == std::string_view::npos)
        return store_path;
    auto base = store_path.substr(slash + 1);
    auto dash = base.find('-');
    return dash == std::string_view::npos ? base : base.substr(dash + 1);
}

// One package name's paths in a closure: its versions and their total NAR size.
struct Group {
    std::set<std::string> versions;
    std::uint64_t size = 0;
};

std::map<std::string, Group> group(const ClosureSizes& closure) {
    std::map<std::string, Group> groups;
    for (const auto& [path, size] : closure) {
        auto n = package_name(path);
        auto& g = groups[n.name];
        g.versions.insert(n.version);
        g.size += size;
    }
    return groups;
}

std::vector<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
    std::vector<std::string> out;
    for (const auto& v : a)
        if (!b.count(v))
            out.push_back(v);
    return out;
}

} // namespace

PackageName package_name(std::string_view store_path) {
    std::string name(name_of(store_path));
    // The output name, ambiguous with a version suffix such as "unstable": Nix strips it
    // all the same, and so must we to group the same way.
    static const std::regex output_suffix("(.*)-([a-z]+|lib32|lib64)");
    std::smatch m;
    if (std::regex_match(name, m, output_suffix))
        name = m[1].str();
    for (std::size_t i = 0; i + 1 < name.size(); ++i)
        if (name[i] == '-' && !std::isalpha(static_cast<unsigned char>(name[i + 1])))
            return {name.substr(0, i), name.substr(i + 1)};
    return {name, ""};
}

std::vector<PackageChange> diff_closures(const ClosureSizes& before, const ClosureSizes& after) {
    auto old_groups = group(before);
    auto new_groups = group(after);
    std::set<std::string> names;
    for (const auto& [name, g] : old_groups)
        names.insert(name);
    for (const auto& [name, g] : new_groups)
        names.insert(name);
    std::vector<PackageChange> changes;
    for (const auto& name : names) {
        const auto& o = old_groups[name];
        const auto& n = new_groups[name];
        PackageChange c;
        c.name = name;
        c.from = minus(o.versions, n.versions);
        c.to = minus(n.versions, o.versions);
        c.size_delta = static_cast<std::int64_t>(n.size) - static_cast<std::int64_t>(o.size);
        if (!c.from.empty() || !c.to.empty() || std::llabs(c.size_delta) >= kShownSizeDelta)
            changes.push_back(std::move(c));
    }
    return changes;
}

} // namespace fedi::plan
