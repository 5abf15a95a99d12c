#include "nix/store.hpp"

#include "core/error.hpp"
#include "core/process.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <sstream>

#include <fmt/format.h>

namespace fedi::nix {
namespace {

// Runs nix-store with `args`, splitting `paths` into as few invocations as the
// command-line limit allows (Nix 2.8's --dump-db has no --stdin).
std::string run_nix_store_batched(const std::vector<std::string>& args,
                                  const std::vector<std::string>& paths) {
    constexpr std::size_t max_batch_bytes = 1 << 20; // ARG_MAX is 2 MiB, env included
    std::string out;
    std::size_t i = 0;
    do {
        std::vector<std::string> argv = {"nix-store"};
        argv.insert(argv.end(), args.begin(), args.end());
        std::size_t bytes = 0;
        while (i < paths.size() && (bytes == 0 || bytes + paths[i].size() + 1 <= max_batch_bytes)) {
            bytes += paths[i].size() + 1;
            argv.push_back(paths[i++]);
        }
        auto r = run_process(argv);
        if (!r.ok()) {
            while (!r.err.empty() && r.err.back() == '\n')
                r.err.pop_back();
            throw Error(fmt::format("nix-store {} failed (exit code {}): {}", args.front(),
                                    r.exit_code, r.err));
        }
        out += r.out;
    } while (i < paths.size());
    return out;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        lines.push_back(line);
    return lines;
}

std::uint64_t parse_number(const std::string& s, const char* what) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty())
        throw Error(fmt::format("nix-store --dump-db: bad {} '{}'", what, s));
    return v;
}

} // namespace

std::vector<PathInfo> parse_dump_db(const std::string& text) {
    auto lines = lines_of(text);
    std::vector<PathInfo> infos;
    std::size_t i = 0;
    auto next = [&](const char* what) -> const std::string& {
        if (i >= lines.size())
            throw Error(fmt::format("nix-store --dump-db: output ends before the {}", what));
        return lines[i++];
    };
    while (i < lines.size()) {
        PathInfo info;
        info.path = next("path");
        if (info.path.empty() || info.path[0] != '/')
            throw Error(
                fmt::format("nix-store --dump-db: expected a store path, got '{}'", info.path));
        info.nar_hash = next("narHash");
        info.nar_size = parse_number(next("narSize"), "narSize");
        info.deriver = next("deriver");
        auto count = parse_number(next("reference count"), "reference count");
        for (std::uint64_t k = 0; k < count; ++k)
            info.references.push_back(next("references"));
        std::sort(info.references.begin(), info.references.end());
        infos.push_back(std::move(info));
    }
    return infos;
}

std::vector<PathInfo> topo_sort(std::vector<PathInfo> infos) {
    std::sort(infos.begin(), infos.end(),
              [](const PathInfo& a, const PathInfo& b) { return a.path < b.path; });
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < infos.size(); ++i)
        index[infos[i].path] = i;

    enum class Mark { None, Visiting, Done };
    std::vector<Mark> mark(infos.size(), Mark::None);
    std::vector<std::size_t> order;
    order.reserve(infos.size());
    // Iterative DFS (closures can be deep chains): a frame is (node, next reference).
    std::vector<std::pair<std::size_t, std::size_t>> stack;
    for (std::size_t root = 0; root < infos.size(); ++root) {
        if (mark[root] != Mark::None)
            continue;
        stack.push_back({root, 0});
        mark[root] = Mark::Visiting;
        while (!stack.empty()) {
            auto& [node, ref] = stack.back();
            const auto& refs = infos[node].references;
            if (ref < refs.size()) {
                const auto& r = refs[ref++];
                auto it = index.find(r);
                if (it == index.end() || it->second == node)
                    continue;
                if (mark[it->second] == Mark::Visiting)
                    throw Error(
                        fmt::format("reference cycle between '{}' and '{}'", infos[node].path, r));
                if (mark[it->second] == Mark::None) {
                    mark[it->second] = Mark::Visiting;
                    stack.push_back({it->second, 0});
                }
                continue;
            }
            mark[node] = Mark::Done;
            order.push_back(node);
            stack.pop_back();
        }
    }
    std::vector<PathInfo> sorted;
    sorted.reserve(infos.size());
    for (auto i : order)
        sorted.push_back(std::move(infos[i]));
    return sorted;
}

namespace {

std::string closure_context(const std::vector<std::string>& roots) {
    return "while querying the closure of " + roots.front() +
           (roots.size() > 1 ? fmt::format(" and {} more", roots.size() - 1) : std::string());
}

} // namespace

std::vector<std::string> query_requisites(const std::vector<std::string>& roots) {
    if (roots.empty())
        return {};
    auto paths = lines_of(run_nix_store_batched({"--query", "--requisites"}, roots));
    // Batches of -qR may overlap; --dump-db wants each path once.
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    return paths;
}

std::vector<PathInfo> query_path_infos(const std::vector<std::string>& paths) {
    if (paths.empty())
        return {};
    auto infos = parse_dump_db(run_nix_store_batched({"--dump-db"}, paths));
    if (infos.size() != paths.size())
        throw Error(fmt::format("nix-store --dump-db described {} paths, expected {}", infos.size(),
                                paths.size()));
    return infos;
}

std::vector<PathInfo> query_closure(const std::vector<std::string>& roots) {
    LocalClosure closure(roots);
    return closure.infos(closure.paths());
}

LocalClosure::LocalClosure(std::vector<std::string> roots) : roots_(std::move(roots)) {}

LocalClosure::~LocalClosure() {
    std::lock_guard lock(mutex_);
    if (paths_.valid())
        paths_.wait();
}

std::shared_future<std::vector<std::string>> LocalClosure::requisites() {
    std::lock_guard lock(mutex_);
    if (!paths_.valid())
        paths_ = std::async(std::launch::async, [roots = roots_] {
                     if (roots.empty())
                         return std::vector<std::string>{};
                     return with_context(closure_context(roots),
                                         [&] { return query_requisites(roots); });
                 }).share();
    return paths_;
}

void LocalClosure::start() {
    requisites();
}

const std::vector<std::string>& LocalClosure::paths() {
    // The shared state outlives the copy: the reference stays valid while *this lives.
    return requisites().get();
}

std::vector<PathInfo> LocalClosure::infos(const std::vector<std::string>& subset) {
    std::lock_guard lock(infos_mutex_);
    std::vector<std::string> unknown;
    for (const auto& p : subset)
        if (!infos_.count(p))
            unknown.push_back(p);
    if (!unknown.empty()) {
        std::sort(unknown.begin(), unknown.end());
        unknown.erase(std::unique(unknown.begin(), unknown.end()), unknown.end());
        auto fresh = with_context(closure_context(roots_.empty() ? unknown : roots_),
                                  [&] { return query_path_infos(unknown); });
        for (auto& info : fresh)
            infos_.emplace(info.path, std::move(info));
    }
    std::vector<PathInfo> out;
    out.reserve(subset.size());
    for (const auto& p : subset)
        out.push_back(infos_.at(p));
    return topo_sort(std::move(out));
}

} // namespace fedi::nix
