// State encrypted with age: what fedi seals, `age -d` opens (and the other way round); the
// wrong identity or none is a clear error; a key given in the environment reaches age on
// its stdin, never in its arguments or its environment.
#include "core/error.hpp"
#include "core/process.hpp"
#include "statestore/age_codec.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace fedi;
using fedi::test::TempDir;

namespace {

// A fresh age identity from age-keygen: the key file and its public key.
struct Identity {
    std::string file;
    std::string key;       // AGE-SECRET-KEY-1…
    std::string recipient; // age1…
};

Identity generate_identity(const TempDir& dir, const std::string& name) {
    Identity id;
    id.file = dir / name;
    auto made = run_process({"age-keygen", "-o", id.file});
    REQUIRE(made.ok());
    auto pub = run_process({"age-keygen", "-y", id.file});
    REQUIRE(pub.ok());
    id.recipient = pub.out.substr(0, pub.out.find('\n'));
    std::ifstream in(id.file);
    for (std::string line; std::getline(in, line);)
        if (line.rfind("AGE-SECRET-KEY-", 0) == 0)
            id.key = line;
    REQUIRE(!id.key.empty());
    return id;
}

std::unique_ptr<statestore::Codec> codec_for(const Identity& to, statestore::AgeIdentities ids,
                                             std::vector<std::string>* notices = nullptr) {
    statestore::AgeOptions options;
    options.recipients = {to.recipient};
    options.identities = std::move(ids);
    if (notices)
        options.on_notice = [notices](const std::string& m) { notices->push_back(m); };
    return statestore::age_codec(std::move(options));
}

statestore::AgeIdentities from_file(const Identity& id) {
    statestore::AgeIdentities ids;
    ids.files.push_back({id.file, "the test"});
    return ids;
}

statestore::AgeIdentities from_key(const Identity& id) {
    statestore::AgeIdentities ids;
    ids.key = id.key;
    return ids;
}

const std::string kState = R"({"machines":{"web":{"generation":3}},"secret":"hunter2-s3cret"})";

// Replaces `age` in PATH by a script that records its command line and environment as
// /proc shows them, then runs the real age in its place.
class RecordingAge {
  public:
    explicit RecordingAge(const TempDir& dir) : dir_(dir), old_path_(std::getenv("PATH")) {
        auto real = run_process({"sh", "-c", "command -v age"});
        REQUIRE(real.ok());
        std::filesystem::create_directories(dir / "bin");
        auto script =
            dir.write("bin/age", "#!/bin/sh\ncat /proc/$$/cmdline >> '" + dir / "cmdline" +
                                     "'\ncat /proc/$$/environ >> '" + dir / "environ" + "'\nexec " +
                                     real.out.substr(0, real.out.find('\n')) + " \"$@\"\n");
        std::filesystem::permissions(script, std::filesystem::perms::owner_all);
        ::setenv("PATH", (dir / "bin:" + old_path_).c_str(), 1);
    }
    ~RecordingAge() { ::setenv("PATH", old_path_.c_str(), 1); }
    RecordingAge(const RecordingAge&) = delete;
    RecordingAge& operator=(const RecordingAge&) = delete;

    std::string read(const std::string& name) const {
        std::ifstream in(dir_ / name, std::ios::binary);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

  private:
    const TempDir& dir_;
    std::string old_path_;
};

} // namespace

TEST_CASE("age codec: sealed state is an age file that age -d and the codec both open") {
    TempDir dir("fedi-age-test");
    auto id = generate_identity(dir, "key.txt");
    auto codec = codec_for(id, from_file(id));
    auto sealed = codec->seal(kState);
    CHECK(sealed.rfind("age-encryption.org/v1\n", 0) == 0);
    CHECK(statestore::is_age_encrypted(sealed));
    CHECK(sealed.find("hunter2") == std::string::npos);
    CHECK(codec->open(sealed, "state.json") == kState);
    CHECK(codec_for(id, from_key(id))->open(sealed, "state.json") == kState);
    // By hand, as an operator would.
    auto file = dir.write("state.age", sealed);
    auto by_hand = run_process({"age", "-d", "-i", id.file, file});
    CHECK(by_hand.ok());
    CHECK(by_hand.out == kState);
    CHECK(codec->describe() == "age (1 recipient)");
}

TEST_CASE("age codec: several recipients can each read the state") {
    TempDir dir("fedi-age-test");
    auto a = generate_identity(dir, "a.txt");
    auto b = generate_identity(dir, "b.txt");
    statestore::AgeOptions options;
    options.recipients = {a.recipient, b.recipient};
    auto sealed = statestore::age_codec(options)->seal(kState);
    CHECK(codec_for(a, from_key(b))->open(sealed, "s") == kState);
    CHECK(codec_for(b, from_file(a))->open(sealed, "s") == kState);
}

TEST_CASE("age codec: the wrong identity, a missing one or none is a clear error") {
    TempDir dir("fedi-age-test");
    auto owner = generate_identity(dir, "owner.txt");
    auto other = generate_identity(dir, "other.txt");
    auto sealed = codec_for(owner, {})->seal(kState);
    auto message = [&](statestore::AgeIdentities ids) {
        try {
            codec_for(owner, std::move(ids))->open(sealed, "/srv/state.json");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::Usage);
            return e.message();
        }
        return std::string("no error");
    };
    CHECK_THAT(message(from_key(other)), Catch::Contains("/srv/state.json") &&
                                             Catch::Contains("other recipients") &&
                                             Catch::Contains("FEDI_AGE_IDENTITY"));
    CHECK_THAT(message(from_file(other)), Catch::Contains("other.txt (the test)"));
    CHECK_THAT(message({}), Catch::Contains("/srv/state.json") &&
                                Catch::Contains("no identity was given") &&
                                Catch::Contains("FEDI_AGE_IDENTITY_FILE"));
    statestore::AgeIdentities missing;
    missing.files.push_back({dir / "nowhere.txt", "FEDI_AGE_IDENTITY_FILE"});
    CHECK_THAT(message(missing), Catch::Contains("nowhere.txt (from FEDI_AGE_IDENTITY_FILE) does "
                                                 "not exist"));
}

TEST_CASE("age codec: plain state is read as it is and the next write encrypts it") {
    TempDir dir("fedi-age-test");
    auto id = generate_identity(dir, "key.txt");
    std::vector<std::string> notices;
    auto codec = codec_for(id, {}, &notices);
    CHECK(codec->open(kState, "/srv/state.json") == kState);
    REQUIRE(notices.size() == 1);
    CHECK_THAT(notices[0], Catch::Contains("/srv/state.json is plain text") &&
                               Catch::Contains("next write encrypts"));
    CHECK(statestore::is_age_encrypted(codec->seal(kState)));
}

TEST_CASE("age codec: a key from the environment is neither in age's arguments nor its "
          "environment") {
    TempDir dir("fedi-age-test");
    auto id = generate_identity(dir, "key.txt");
    auto sealed = codec_for(id, {})->seal(kState);
    ::setenv("FEDI_AGE_IDENTITY", id.key.c_str(), 1);
    auto ids = statestore::age_identities_from_environment(std::nullopt);
    ::unsetenv("FEDI_AGE_IDENTITY");
    REQUIRE(ids.key == id.key);
    ::setenv("FEDI_AGE_IDENTITY", id.key.c_str(), 1); // as a CI job has it while fedi runs
    std::string opened;
    // A temporary directory of its own, to see what age's input left behind.
    std::filesystem::create_directories(dir / "tmp");
    std::string old_tmpdir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "";
    ::setenv("TMPDIR", (dir / "tmp").c_str(), 1);
    {
        RecordingAge age(dir);
        opened = codec_for(id, ids)->open(sealed, "state.json");
        ::unsetenv("FEDI_AGE_IDENTITY");
        auto cmdline = age.read("cmdline");
        CHECK_THAT(cmdline, Catch::Contains("--decrypt")); // the recording works
        CHECK(cmdline.find("AGE-SECRET-KEY") == std::string::npos);
        auto environ_text = age.read("environ");
        CHECK_THAT(environ_text, Catch::Contains("PATH="));
        CHECK(environ_text.find("AGE-SECRET-KEY") == std::string::npos);
    }
    if (old_tmpdir.empty())
        ::unsetenv("TMPDIR");
    else
        ::setenv("TMPDIR", old_tmpdir.c_str(), 1);
    CHECK(opened == kState);
    // Nothing is left in the temporary directory.
    CHECK(std::filesystem::is_empty(dir / "tmp"));
}
