// TEST-ONLY: `fedi deploy` with a binary cache that is a directory written by real Nix,
// so that integration tests (test_cache_fetch.py) drive the deploy side of the fleet
// fan-out — machines fetching from a cache, falling back to the push, refusing what the
// cache's key did not sign — against real test hosts, independently of lib/cache's S3
// writer. Not a product: the cache is `nix copy --to file://DIR?secret-key=…`, served
// over HTTP by the test.
//
//   fedi-cache-deploy CACHE_DIR URL SECRET_KEY_FILE PUBLIC_KEY [DEPLOY OPTION...]
//     DEPLOY OPTION: --transfer push|cache|auto, --substitute-on-target, --on NAME,
//                    --goal GOAL
//
// Runs in the directory of deployment.nix; prints the deploy report as JSON (what
// `fedi --json deploy` prints). Exit codes: 0 converged, 1 something failed, 2 usage.
#include "core/error.hpp"
#include "core/process.hpp"
#include "deploy/deploy.hpp"
#include "deploy/lock_scopes.hpp"
#include "report/deploy_report.hpp"
#include "ui/output.hpp"

#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>

using namespace fedi;
namespace fs = std::filesystem;

namespace {

std::uint64_t tree_bytes(const fs::path& dir) {
    std::uint64_t bytes = 0;
    if (fs::exists(dir))
        for (const auto& e : fs::recursive_directory_iterator(dir))
            if (e.is_regular_file())
                bytes += e.file_size();
    return bytes;
}

// The paths' narinfo files: "<hash part>.narinfo".
std::string narinfo_name(const std::string& path) {
    auto base = path.substr(path.rfind('/') + 1);
    return base.substr(0, base.find('-')) + ".narinfo";
}

// A binary cache in a local directory, written by `nix copy` (which signs what it
// writes), one upload at a time; a path whose narinfo is there already is not sent again
// (as lib/cache's writer does), so a test can put a tampered one in place first.
class DirectoryCache : public cache::BinaryCache {
  public:
    DirectoryCache(std::string dir, std::string url, std::string key_file, std::string public_key)
        : dir_(std::move(dir)), url_(std::move(url)), key_file_(std::move(key_file)),
          public_key_(std::move(public_key)) {}

    cache::UploadProgress
    upload(nix::LocalClosure&, const std::vector<std::string>& paths,
           const std::function<void(const cache::UploadProgress&)>& progress) override {
        std::lock_guard<std::mutex> lock(mutex_);
        cache::UploadProgress p;
        p.paths_total = paths.size();
        std::vector<std::string> send;
        for (const auto& path : paths)
            (fs::exists(fs::path(dir_) / narinfo_name(path)) ? p.paths_present
                                                             : p.paths_uploaded)++;
        for (const auto& path : paths)
            if (!fs::exists(fs::path(dir_) / narinfo_name(path)))
                send.push_back(path);
        auto before = tree_bytes(dir_);
        if (!send.empty())
            copy(send);
        p.bytes_uploaded = tree_bytes(dir_) - before;
        if (progress)
            progress(p);
        return p;
    }

    std::string substituter_url() const override { return url_; }
    std::string public_key() const override { return public_key_; }

  private:
    void copy(const std::vector<std::string>& paths) {
        std::vector<std::string> argv = {
            "nix",         "--extra-experimental-features",
            "nix-command", "copy",
            "--to",        "file://" + dir_ + "?compression=none&secret-key=" + key_file_};
        argv.insert(argv.end(), paths.begin(), paths.end());
        auto r = run_process(argv);
        if (!r.ok())
            throw Error("nix copy to the test cache failed: " + r.err);
    }

    std::string dir_, url_, key_file_, public_key_;
    std::mutex mutex_;
};

int run(const std::vector<std::string>& args) {
    if (args.size() < 4)
        throw usage_error("usage: fedi-cache-deploy CACHE_DIR URL SECRET_KEY_FILE PUBLIC_KEY "
                          "[--transfer T] [--substitute-on-target] [--on NAME] [--goal G]");
    deploy::DeployOptions opts;
    for (std::size_t i = 4; i < args.size(); ++i) {
        const auto& a = args[i];
        bool has_value = i + 1 < args.size();
        if (a == "--substitute-on-target")
            opts.substitute_on_target = true;
        else if (a == "--transfer" && has_value && deploy::parse_transfer(args[i + 1]))
            opts.transfer = *deploy::parse_transfer(args[++i]);
        else if (a == "--on" && has_value)
            opts.on.push_back(args[++i]);
        else if (a == "--goal" && has_value && model::parse_goal(args[i + 1]))
            opts.goal = *model::parse_goal(args[++i]);
        else
            throw usage_error("fedi-cache-deploy: unknown or incomplete option " + a);
    }
    opts.open_cache = [&args](session::Session&) -> std::unique_ptr<cache::BinaryCache> {
        return std::make_unique<DirectoryCache>(args[0], args[1], args[2], args[3]);
    };
    session::SessionOptions so;
    so.command_line = "fedi-cache-deploy";
    so.state_mode = deploy::state_mode(opts);
    so.lock_scopes = [&opts](const session::Project& p) {
        return deploy::lock_scopes(p.deployment, opts);
    };
    ui::OutputOptions out;
    out.json = true;
    ui::Reporter reporter(out);
    auto session = session::open_session(so, reporter);
    auto report = deploy::run_deploy(*session, opts);
    std::cout << report::to_json(report).dump(2) << std::endl;
    return report.ok() ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const Error& e) {
        std::cerr << "fedi-cache-deploy: " << e.describe() << std::endl;
        return e.kind() == ErrorKind::Usage ? 2 : 1;
    }
}
