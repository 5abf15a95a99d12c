#pragma once
// A closure diff the way `nix store diff-closures` computes it (Nix's
// src/nix/diff-closures.cc): store paths grouped by package name, each name's versions
// before and after, and its NAR size change. Pure: the sizes come from the caller.
#include "plan/plan.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace fedi::plan {

// A store path's name split as Nix's DrvName does (src/libstore/names.cc): the version
// starts after the first '-' not followed by a letter ("hello-2.12.1" → "hello",
// "2.12.1"); "" when there is none. An output suffix ("-bin", "-man", "-lib32") is
// stripped first, as diff-closures does.
struct PackageName {
    std::string name;
    std::string version;
    bool operator==(const PackageName&) const = default;
};
PackageName package_name(std::string_view store_path);

// A closure: store path → NAR size.
using ClosureSizes = std::map<std::string, std::uint64_t>;

// Sizes below this are not shown unless the versions changed (diff-closures' 8 KiB).
inline constexpr std::int64_t kShownSizeDelta = std::int64_t{8} * 1024;

// The names whose versions changed or whose size changed by at least kShownSizeDelta,
// sorted by name; `from`/`to` hold only the versions removed/added, as diff-closures
// prints them.
std::vector<PackageChange> diff_closures(const ClosureSizes& before, const ClosureSizes& after);

} // namespace fedi::plan
