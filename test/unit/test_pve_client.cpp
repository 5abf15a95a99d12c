// The pure parts of the Proxmox VE client: encodings, UPIDs, tokens, error texts,
// guest address choice and certificate fingerprints.
#include "core/error.hpp"
#include "core/process.hpp"
#include "provider/proxmox_format.hpp"
#include "provider/proxmox_tls.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace fedi;
using namespace fedi::provider::pve;
namespace fs = std::filesystem;

using fedi::test::TempDir;

namespace {

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.message();
    }
    FAIL("no error thrown");
    return {};
}

} // namespace

TEST_CASE("PVE form encoding encodes every reserved byte") {
    // pveproxy cuts pairs at each raw '=' and reads '+' as a space.
    CHECK(form_encode({{"ipconfig0", "ip=10.0.0.5/24,gw=10.0.0.1"}}) ==
          "ipconfig0=ip%3D10.0.0.5%2F24%2Cgw%3D10.0.0.1");
    CHECK(form_encode({{"description", "a+b c&d"}, {"name", "web-1"}}) ==
          "description=a%2Bb%20c%26d&name=web-1");
    CHECK(form_encode({{"x", "caf\xc3\xa9 %41~._-"}}) == "x=caf%C3%A9%20%2541~._-");
    CHECK(form_encode({}).empty());
    CHECK(percent_decode("ip%3D10.0.0.5%2F24+x%zz%4") == "ip=10.0.0.5/24+x%zz%4");
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += static_cast<char>(c);
    CHECK(percent_decode(percent_encode(all)) == all);
}

TEST_CASE("PVE sshkeys are percent-encoded before form encoding") {
    std::vector<std::string> keys = {"ssh-ed25519 AAAAC3Nz+/Q= ops@example.org",
                                     "  ssh-rsa AAAAB3= second key \n", ""};
    auto value = encode_sshkeys(keys);
    CHECK(value == "ssh-ed25519%20AAAAC3Nz%2B%2FQ%3D%20ops%40example.org%0Assh-rsa%20AAAAB3%3D%"
                   "20second%20key");
    // On the wire the value is encoded a second time: '%' becomes %25.
    auto body = form_encode({{"sshkeys", value}});
    CHECK(body.find("%250A") != std::string::npos);
    CHECK(body.find('+') == std::string::npos);
    // What Proxmox stores (the value after form decoding) decodes to the trimmed keys.
    auto stored = percent_decode(body.substr(std::string("sshkeys=").size()));
    CHECK(stored == value);
    CHECK(decode_sshkeys(stored) ==
          std::vector<std::string>{"ssh-ed25519 AAAAC3Nz+/Q= ops@example.org",
                                   "ssh-rsa AAAAB3= second key"});
    CHECK_THROWS_AS(encode_sshkeys({"ssh-ed25519 A\nssh-rsa B"}), Error);
}

TEST_CASE("PVE UPIDs are parsed as PVE::UPID writes them") {
    auto u = parse_upid("UPID:pve1:0001E240:0089AB12:6759F0A1:qmclone:9000:root@pam!fedi:");
    CHECK(u.node == "pve1");
    CHECK(u.pid == 0x1E240);
    CHECK(u.pstart == 0x89AB12);
    CHECK(u.starttime == 0x6759F0A1);
    CHECK(u.type == "qmclone");
    CHECK(u.id == "9000");
    CHECK(u.user == "root@pam!fedi");
    // pstart grows to 9 digits on long-running hosts; the id may be empty
    auto v = parse_upid("UPID:node-2:00000001:1000000AB:00000002:vzdump::admin@pve:");
    CHECK(v.pstart == 0x1000000ABull);
    CHECK(v.id.empty());
    for (auto bad : {"", "UPID:pve1:1:2:3:qmstart:100:root@pam:",
                     "UPID:pve1:0001E240:0089AB12:6759F0A1:qmclone:9000:root@pam!fedi",
                     "upid:pve1:0001E240:0089AB12:6759F0A1:qmclone:9000:root@pam:"})
        CHECK_THROWS_WITH(parse_upid(bad), Catch::Contains("UPID"));
}

TEST_CASE("PVE tokens are checked and read without showing the secret") {
    auto id = parse_token("root@pam!fedi=3f1c2b7a-0000-4000-8000-aaaaaaaaaaaa", "test");
    CHECK(id.user == "root@pam");
    CHECK(id.token == "fedi");
    CHECK(id.id() == "root@pam!fedi");
    CHECK(parse_token("PVEAPIToken=ops@pve!ci-1.x=s3cr3t", "test").id() == "ops@pve!ci-1.x");
    for (auto bad : {"root@pam=SECRETVALUE", "root!fedi=SECRETVALUE", "root@pam!fedi",
                     "root@pam!fedi=", "root@pam!fedi=SECRET VALUE", "root@pam!1x=SECRETVALUE",
                     "root:x@pam!fedi=SECRETVALUE"}) {
        auto m = message_of([&] { parse_token(bad, "tokenFile /run/secrets/pve"); });
        CHECK_THAT(m, Catch::Contains("tokenFile /run/secrets/pve") &&
                          Catch::Contains("USER@REALM!TOKENID=SECRET"));
        CHECK_THAT(m, !Catch::Contains("SECRET VALUE") && !Catch::Contains("SECRETVALUE"));
    }

    TempDir dir;
    auto good = dir.write("pve", "  root@pam!fedi=abc-123\n");
    CHECK(read_token(good, std::nullopt) == "root@pam!fedi=abc-123");
    CHECK(describe_token_source(good, std::string("PVE")) == "tokenFile " + good);

    auto missing = dir / "absent";
    auto m = message_of([&] { read_token(missing, std::nullopt); });
    CHECK_THAT(m, Catch::Contains(missing) && Catch::Contains("No such file"));
    CHECK_THAT(message_of([&] { read_token(dir.write("empty", "\n"), std::nullopt); }),
               Catch::Contains("empty"));
    auto two = message_of(
        [&] { read_token(dir.write("two", "root@pam!a=SECRET1\nroot@pam!b=SECRET2\n"), {}); });
    CHECK_THAT(two, Catch::Contains("more than one line") && !Catch::Contains("SECRET1"));
    auto malformed = message_of([&] { read_token(dir.write("bad", "hunter2\n"), {}); });
    CHECK_THAT(malformed, Catch::Contains("malformed") && !Catch::Contains("hunter2"));

    setenv("FEDI_TEST_PVE_TOKEN", "ci@pve!deploy=xyz\n", 1);
    CHECK(read_token(std::nullopt, std::string("FEDI_TEST_PVE_TOKEN")) == "ci@pve!deploy=xyz");
    unsetenv("FEDI_TEST_PVE_TOKEN");
    CHECK_THAT(message_of([] { read_token(std::nullopt, std::string("FEDI_TEST_PVE_TOKEN")); }),
               Catch::Contains("environment variable FEDI_TEST_PVE_TOKEN is not set"));
    CHECK_THAT(message_of([] { read_token(std::nullopt, std::nullopt); }),
               Catch::Contains("tokenFile"));
}

TEST_CASE("PVE endpoints become API base URLs, and plain http is refused") {
    CHECK(api_base_url("https://pve1:8006") == "https://pve1:8006/api2/json");
    CHECK(api_base_url("https://pve1:8006/") == "https://pve1:8006/api2/json");
    CHECK(api_base_url(" HTTPS://10.0.0.2:8006/api2/json/ ") == "HTTPS://10.0.0.2:8006/api2/json");
    CHECK_THROWS_WITH(api_base_url("http://pve1:8006"), Catch::Contains("https://"));
    CHECK_THROWS_WITH(api_base_url("pve1:8006"), Catch::Contains("https://"));
    CHECK_THROWS(api_base_url("https://"));
}

TEST_CASE("PVE error replies become one line with the parameter errors") {
    CHECK(describe_reply(400, "Parameter verification failed.",
                         R"({"data":null,"errors":{"newid":"invalid format - value does not )"
                         R"(look like a valid VM ID\n"},"message":"Parameter verification )"
                         R"(failed.\n"})") ==
          "400 Parameter verification failed: newid: invalid format - value does not look like "
          "a valid VM ID");
    auto two = describe_reply(400, "x",
                              R"({"errors":{"a":"bad","net0":"invalid format - )"
                              R"(format error\nnet0.tag: value must be at most 4094"}})");
    CHECK(two == "400 x: a: bad; net0: invalid format - format error; net0.tag: value must be at "
                 "most 4094");
    CHECK(describe_reply(500, "Internal Server Error",
                         R"({"data":null,"message":"VM 105 is running - destroy failed\n"})") ==
          "500 VM 105 is running - destroy failed");
    // pveproxy puts the reason of a 401 in the status line, with an empty body
    CHECK(describe_reply(401, "invalid token value!", "") == "401 invalid token value!");
    CHECK(describe_reply(502, "Bad Gateway", "<html>proxy</html>") == "502 Bad Gateway");
    CHECK(describe_reply(500, "", "") == "500");

    CHECK(is_lock_timeout("can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout"));
    CHECK(is_lock_timeout(
        "clone failed: can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout"));
    CHECK(is_lock_timeout("cfs-lock 'storage-linstor' error: got lock request timeout"));
    CHECK_FALSE(is_lock_timeout("VM is locked (clone)"));
    CHECK(is_already_exists("unable to create VM 101: config file already exists"));
    CHECK(is_already_exists("VM 101 already exists"));
    CHECK(is_agent_not_ready("QEMU guest agent is not running"));
    CHECK(is_agent_not_ready("VM 100 qmp command 'guest-ping' failed - got timeout"));
    CHECK_FALSE(is_agent_not_ready("VM 100 is not running"));
    CHECK_FALSE(is_agent_not_ready("No QEMU guest agent configured"));
}

TEST_CASE("PVE values arrive as numbers, strings or booleans") {
    using nlohmann::json;
    CHECK(json_int(json("100")) == 100);
    CHECK(json_int(json(101)) == 101);
    CHECK(json_int(json("10x"), -1) == -1);
    CHECK(json_int(json(nullptr), 7) == 7);
    CHECK(json_bool(json(1)));
    CHECK(json_bool(json("1")));
    CHECK(json_bool(json(true)));
    CHECK_FALSE(json_bool(json(0)));
    CHECK_FALSE(json_bool(json("0"), true));
    CHECK(json_bool(json(nullptr), true));
    CHECK(json_string(json(4)) == "4");
    CHECK(json_string(json("4")) == "4");
}

TEST_CASE("PVE guest address: by interface, net0's MAC first, loopback as a last resort") {
    auto qga = nlohmann::json::parse(R"({"result": [
      {"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [
        {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
        {"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128}]},
      {"name": "docker0", "hardware-address": "02:42:ac:11:00:01", "ip-addresses": [
        {"ip-address": "172.17.0.1", "ip-address-type": "ipv4", "prefix": 16}]},
      {"name": "eth0", "hardware-address": "bc:24:11:aa:bb:cc", "ip-addresses": [
        {"ip-address": "fe80::be24:11ff:feaa:bbcc", "ip-address-type": "ipv6", "prefix": 64},
        {"ip-address": "2001:db8::5", "ip-address-type": "ipv6", "prefix": 64},
        {"ip-address": "10.0.0.5", "ip-address-type": "ipv4", "prefix": 24}]}]})");
    auto ifaces = parse_guest_interfaces(qga);
    REQUIRE(ifaces.size() == 3);
    CHECK(ifaces[2].name == "eth0");
    CHECK(ifaces[2].addresses.size() == 3);
    CHECK(ifaces[2].addresses[1].family == 6);
    CHECK(ifaces[2].addresses[2].prefix == 24);
    // net0's MAC (any case) picks eth0 over docker0; global IPv4 first
    CHECK(pick_guest_address(ifaces, mac_of_net("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0")) ==
          "10.0.0.5");
    // without a MAC, the first global address in the guest's order
    CHECK(pick_guest_address(ifaces) == "172.17.0.1");
    // a real interface with only a 127/8 address (a test double's guest) still answers
    std::vector<GuestInterface> fake = {
        {"lo", "00:00:00:00:00:00", {{"127.0.0.1", 4, 8}}},
        {"eth0", "bc:24:11:00:00:01", {{"fe80::1", 6, 64}, {"127.0.100.7", 4, 24}}}};
    CHECK(pick_guest_address(fake, std::string("BC:24:11:00:00:01")) == "127.0.100.7");
    // a global address elsewhere beats net0's interface when that has none yet
    std::vector<GuestInterface> dhcp_pending = {
        {"eth0", "bc:24:11:00:00:01", {{"169.254.3.4", 4, 16}}},
        {"eth1", "bc:24:11:00:00:02", {{"2001:db8::9", 6, 64}}}};
    CHECK(pick_guest_address(dhcp_pending, std::string("bc:24:11:00:00:01")) == "2001:db8::9");
    // only loopback or link-local IPv6: no answer
    std::vector<GuestInterface> none = {{"lo", "", {{"127.0.0.1", 4, 8}}},
                                        {"eth0", "", {{"fe80::1", 6, 64}}}};
    CHECK_FALSE(pick_guest_address(none));
    CHECK_FALSE(pick_guest_address({}));

    CHECK(mac_of_net("virtio=BC:24:11:61:99:8A,bridge=vmbr0,firewall=1") == "bc:24:11:61:99:8a");
    CHECK(mac_of_net("bridge=vmbr0,macaddr=02:00:00:00:00:01,model=e1000") == "02:00:00:00:00:01");
    CHECK_FALSE(mac_of_net("virtio,bridge=vmbr0"));
    CHECK_THROWS(parse_guest_interfaces(nlohmann::json::object({{"result", "nope"}})));
}

TEST_CASE("PVE certificate fingerprints match what openssl computes") {
    TempDir dir;
    auto cert = dir / "cert.pem", key = dir / "key.pem";
    auto sh = [](const std::string& script) {
        auto r = run_process({"sh", "-c", script});
        INFO(r.err);
        REQUIRE(r.ok());
        auto out = r.out;
        while (!out.empty() && out.back() == '\n')
            out.pop_back();
        return out;
    };
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
       "-subj /CN=pve1 -keyout " +
       key + " -out " + cert + " 2>/dev/null");
    auto fingerprint =
        sh("openssl x509 -in " + cert + " -noout -fingerprint -sha256 | sed 's/.*=//'");
    auto key_hash = sh("openssl x509 -in " + cert +
                       " -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst "
                       "-sha256 | sed 's/.*= //'");
    std::ifstream in(cert);
    std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto d = certificate_digests(pem);
    CHECK(d.fingerprint == fingerprint);
    std::string upper = key_hash;
    for (auto& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(d.key_sha256 == upper);
    CHECK_THROWS(certificate_digests("not a certificate"));

    // Proxmox's form, or bare hex in any case; "sha256//" is a key pin, not a fingerprint
    std::string bare;
    for (char c : fingerprint)
        if (c != ':')
            bare += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(normalise_fingerprint(fingerprint) == fingerprint);
    CHECK(normalise_fingerprint(bare) == fingerprint);
    CHECK_FALSE(normalise_fingerprint("sha256//abc="));
    CHECK_THROWS_WITH(normalise_fingerprint("AB:CD"), Catch::Contains("fingerprint 'AB:CD'"));
}
