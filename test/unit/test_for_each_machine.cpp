// The one loop over machines: bounds, `after` order, skipped dependents, and a worker's
// exception failing only its machine.
#include "core/error.hpp"
#include "session/for_each_machine.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fmt/format.h>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace fedi;
using session::JobResult;

namespace {

// Records what ran, in which order, and what was reported.
struct Recorder {
    std::mutex mutex;
    std::vector<std::string> started;
    std::map<std::string, std::string> errors;
    std::map<std::string, std::string> skipped;

    session::MachineWork work(std::function<bool(const std::string&)> run) {
        session::MachineWork w;
        w.run = [this, run](const std::string& m) {
            {
                std::lock_guard<std::mutex> lock(mutex);
                started.push_back(m);
            }
            return run(m);
        };
        w.on_error = [this](const std::string& m, const std::string& e) {
            std::lock_guard<std::mutex> lock(mutex);
            errors[m] = e;
        };
        w.on_skipped = [this](const std::string& m, const std::string& dep) {
            std::lock_guard<std::mutex> lock(mutex);
            skipped[m] = dep;
        };
        return w;
    }
    std::size_t position(const std::string& m) {
        return std::find(started.begin(), started.end(), m) - started.begin();
    }
};

} // namespace

TEST_CASE("for_each_machine runs a machine only after those it comes after") {
    Recorder rec;
    auto results = session::for_each_machine(
        {{"db", {}}, {"web", {"db", "cache"}}, {"cache", {"db"}}, {"proxy", {"web"}}}, 4,
        rec.work([](const std::string&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            return true;
        }));
    REQUIRE(rec.started.size() == 4);
    CHECK(rec.position("db") < rec.position("cache"));
    CHECK(rec.position("cache") < rec.position("web"));
    CHECK(rec.position("web") < rec.position("proxy"));
    for (const auto& [name, r] : results)
        CHECK(r == JobResult::Ok);
}

TEST_CASE("for_each_machine skips the dependents of a failed machine, and theirs") {
    Recorder rec;
    auto results =
        session::for_each_machine({{"db", {}}, {"web", {"db"}}, {"proxy", {"web"}}, {"other", {}}},
                                  2, rec.work([](const std::string& m) { return m != "db"; }));
    CHECK(results.at("db") == JobResult::Failed);
    CHECK(results.at("web") == JobResult::Skipped);
    CHECK(results.at("proxy") == JobResult::Skipped);
    CHECK(results.at("other") == JobResult::Ok);
    CHECK(rec.skipped.at("web") == "db");
    CHECK(rec.skipped.at("proxy") == "web");
    CHECK(rec.position("web") == rec.started.size()); // never started
}

TEST_CASE("for_each_machine turns any exception into that machine's failure") {
    Recorder rec;
    auto results = session::for_each_machine(
        {{"a", {}}, {"b", {}}, {"c", {}}, {"d", {}}}, 0, rec.work([](const std::string& m) -> bool {
            if (m == "a")
                throw Error("connection refused");
            if (m == "b")
                return std::stoi("not a number") > 0; // std::invalid_argument
            if (m == "c")
                throw 42;
            return true;
        }));
    CHECK(results.at("a") == JobResult::Failed);
    CHECK(results.at("b") == JobResult::Failed);
    CHECK(results.at("c") == JobResult::Failed);
    CHECK(results.at("d") == JobResult::Ok);
    CHECK_THAT(rec.errors.at("a"), Catch::Contains("connection refused"));
    CHECK_THAT(rec.errors.at("b"), Catch::Contains("stoi"));
    CHECK(rec.errors.at("c") == "an unknown error");
}

TEST_CASE("for_each_machine never runs more than the limit at once") {
    std::atomic<int> now{0}, most{0};
    Recorder rec;
    std::vector<session::MachineJob> jobs;
    for (int i = 0; i < 20; ++i)
        jobs.push_back({fmt::format("m{}", i), {}});
    auto results = session::for_each_machine(jobs, 3, rec.work([&](const std::string&) {
        int n = ++now;
        int seen = most.load();
        while (n > seen && !most.compare_exchange_weak(seen, n)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        --now;
        return true;
    }));
    CHECK(results.size() == 20);
    CHECK(most.load() == 3);
}

TEST_CASE("for_each_machine judges dependencies on machines finished earlier") {
    Recorder rec;
    auto results =
        session::for_each_machine({{"web", {"storage"}}, {"api", {"db"}}, {"cli", {"unselected"}}},
                                  2, rec.work([](const std::string&) { return true; }),
                                  {{"storage", JobResult::Failed}, {"db", JobResult::Ok}});
    CHECK(results.at("web") == JobResult::Skipped);
    CHECK(rec.skipped.at("web") == "storage");
    CHECK(results.at("api") == JobResult::Ok);
    CHECK(results.at("cli") == JobResult::Ok); // not selected: not waited for
    CHECK(results.count("storage") == 0);      // only this call's jobs are returned
}

TEST_CASE("for_each_machine fails machines whose `after` lists form a cycle") {
    Recorder rec;
    auto results = session::for_each_machine({{"a", {"b"}}, {"b", {"a"}}, {"c", {}}}, 2,
                                             rec.work([](const std::string&) { return true; }));
    CHECK(results.at("a") == JobResult::Failed);
    CHECK(results.at("b") == JobResult::Failed);
    CHECK(results.at("c") == JobResult::Ok);
    CHECK_THAT(rec.errors.at("a"), Catch::Contains("waits on itself"));
}
