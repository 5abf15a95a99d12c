// Host key policy. Pinned key: only it. Otherwise known_hosts files (libssh2 parses them,
// hashed entries included) plus keys from fedi's state. A key that differs from one we
// know is refused even with accept_new; an unknown key needs accept_new.
#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "ssh/internal.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace fedi::ssh::detail {
namespace {

struct KeyType {
    const char* name;
    int knownhost_mask;
    std::vector<std::string> algorithms; // host key algorithm names that yield this type
};

// Strongest first: the order in which we prefer known key types.
const std::vector<KeyType>& key_types() {
    static const std::vector<KeyType> types = {
        {"ssh-ed25519", LIBSSH2_KNOWNHOST_KEY_ED25519, {"ssh-ed25519"}},
        {"ecdsa-sha2-nistp521", LIBSSH2_KNOWNHOST_KEY_ECDSA_521, {"ecdsa-sha2-nistp521"}},
        {"ecdsa-sha2-nistp384", LIBSSH2_KNOWNHOST_KEY_ECDSA_384, {"ecdsa-sha2-nistp384"}},
        {"ecdsa-sha2-nistp256", LIBSSH2_KNOWNHOST_KEY_ECDSA_256, {"ecdsa-sha2-nistp256"}},
        {"ssh-rsa", LIBSSH2_KNOWNHOST_KEY_SSHRSA, {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"}},
        {"ssh-dss", LIBSSH2_KNOWNHOST_KEY_SSHDSS, {"ssh-dss"}},
    };
    return types;
}

int type_rank(const std::string& type) {
    const auto& types = key_types();
    for (std::size_t i = 0; i < types.size(); ++i)
        if (type == types[i].name)
            return int(i);
    return int(types.size());
}

std::string describe(const HostKey& k) {
    return k.type + " " + k.fingerprint_sha256();
}

} // namespace

// One known_hosts file loaded into its own libssh2 collection, so messages can name it.
struct HostKeyVerifier::File {
    File(std::string p, LIBSSH2_KNOWNHOSTS* h) : path(std::move(p)), hosts(h) {}
    ~File() {
        if (hosts)
            libssh2_knownhost_free(hosts);
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    std::string path;
    LIBSSH2_KNOWNHOSTS* hosts;
};

HostKeyVerifier::HostKeyVerifier(LIBSSH2_SESSION* session, const ConnectOptions& opts,
                                 std::string where)
    : where_(std::move(where)), policy_(opts.host_keys) {
    // OpenSSH's names: "host" on port 22, "[host]:port" otherwise (only that form).
    std::string host = lower(opts.host);
    lookup_name_ = opts.port == 22 ? host : fmt::format("[{}]:{}", host, opts.port);

    if (policy_.pinned) {
        auto key = with_context("reading the pinned ssh.hostKey",
                                [&] { return HostKey::parse(*policy_.pinned); });
        known_.push_back(
            {key, "the hostKey pinned in the deployment", "update ssh.hostKey in the deployment"});
        return; // a pinned key overrides everything else
    }

    for (const auto& line : policy_.trusted_keys) {
        auto key = with_context("reading the host keys recorded in fedi's state",
                                [&] { return HostKey::parse(line); });
        known_.push_back({key, "fedi's state (a key accepted earlier)",
                          "remove the key recorded for this machine from fedi's state"});
    }

    for (const auto& path : policy_.known_hosts_files) {
        std::ifstream in(path);
        if (!in)
            continue; // like OpenSSH: a missing known_hosts file just knows nothing
        auto& file =
            files_.emplace_back(std::make_unique<File>(path, libssh2_knownhost_init(session)));
        if (!file->hosts)
            throw Error("libssh2 cannot allocate a known-hosts collection");
        std::string line;
        while (std::getline(in, line)) {
            auto start = line.find_first_not_of(" \t");
            if (start == std::string::npos || line[start] == '#')
                continue;
            if (line.compare(start, 9, "@revoked ") == 0) {
                std::istringstream fields(line.substr(start));
                std::string marker, hosts, type, blob;
                fields >> marker >> hosts >> type >> blob;
                revoked_.push_back(blob);
                continue;
            }
            if (line[start] == '@')
                continue; // @cert-authority: fedi does not use host certificates
            // A line libssh2 cannot parse (e.g. a key type it lacks) is skipped, not fatal.
            libssh2_knownhost_readline(file->hosts, line.c_str() + start, line.size() - start,
                                       LIBSSH2_KNOWNHOST_FILE_OPENSSH);
        }
        // libssh2 reports one entry per call: ask once per key type, with a key that
        // cannot match, and collect the mismatching entry of that type for this host.
        for (const auto& kt : key_types()) {
            libssh2_knownhost* entry = nullptr;
            int rc = libssh2_knownhost_checkp(
                file->hosts, lookup_name_.c_str(), -1, "-", 1,
                LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | kt.knownhost_mask,
                &entry);
            if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH && entry && entry->key)
                known_.push_back({HostKey{kt.name, entry->key}, "known_hosts file " + path,
                                  fmt::format("remove the old entry with: ssh-keygen -f {} -R {}",
                                              path, shell_quote(lookup_name_))});
        }
    }
}

HostKeyVerifier::~HostKeyVerifier() = default;

std::vector<std::string> HostKeyVerifier::known_types() const {
    std::vector<std::string> types;
    for (const auto& k : known_)
        if (std::find(types.begin(), types.end(), k.key.type) == types.end())
            types.push_back(k.key.type);
    std::stable_sort(types.begin(), types.end(), [](const std::string& a, const std::string& b) {
        return type_rank(a) < type_rank(b);
    });
    return types;
}

bool HostKeyVerifier::verify(const HostKey& offered) const {
    refuse_if_revoked(offered);
    if (is_known(offered))
        return false;
    if (!known_.empty())
        refuse_changed(offered);
    if (policy_.accept_new)
        return true;
    throw Error(fmt::format(
        "{}: unknown host key {}; refusing to connect. Check the fingerprint on the machine "
        "(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then pin it in the deployment "
        "(ssh.hostKey = \"{}\") or pass --accept-new-host-keys to trust it on first use.",
        where_, describe(offered), offered.openssh()));
}

void HostKeyVerifier::refuse_if_revoked(const HostKey& offered) const {
    if (std::find(revoked_.begin(), revoked_.end(), offered.blob_base64) != revoked_.end())
        throw Error(fmt::format(
            "{}: the host offered {}, a key marked @revoked in known_hosts; refusing to connect",
            where_, describe(offered)));
}

bool HostKeyVerifier::is_known(const HostKey& offered) const {
    for (const auto& k : known_)
        if (k.key == offered)
            return true;
    // libssh2's own check finds the key even when another entry of its type came first.
    auto type = std::find_if(key_types().begin(), key_types().end(),
                             [&](const KeyType& kt) { return offered.type == kt.name; });
    if (type == key_types().end())
        return false;
    for (const auto& f : files_) {
        int rc = libssh2_knownhost_checkp(
            f->hosts, lookup_name_.c_str(), -1, offered.blob_base64.c_str(), 0,
            LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | type->knownhost_mask,
            nullptr);
        if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
            return true;
    }
    return false;
}

void HostKeyVerifier::refuse_changed(const HostKey& offered) const {
    std::string expected;
    for (const auto& k : known_)
        expected += fmt::format("\n  {} has:  {}", k.source, describe(k.key));
    std::string fixes;
    for (const auto& k : known_)
        if (fixes.find(k.fix) == std::string::npos)
            fixes += (fixes.empty() ? "" : "; ") + k.fix;
    bool same_type = std::any_of(known_.begin(), known_.end(),
                                 [&](const Known& k) { return k.key.type == offered.type; });
    bool rsa_known = std::any_of(known_.begin(), known_.end(),
                                 [](const Known& k) { return k.key.type == "ssh-rsa"; });
    std::string headline =
        same_type ? "WARNING: the host key changed"
                  : fmt::format("WARNING: host key mismatch: the host offered a {} key, but "
                                "only keys of another type are known for it",
                                offered.type);
    // The usual innocent cause of a type mismatch with this libssh2.
    std::string rsa_note =
        !same_type && rsa_known
            ? " Note: libssh2 1.10 can only verify RSA host keys as ssh-rsa (SHA-1), which "
              "OpenSSH 8.8 and later no longer offer by default; pin the machine's ed25519 "
              "key instead."
            : "";
    throw Error(fmt::format(
        "{}: {}; refusing to connect.\n"
        "  the host offered:  {}{}\n"
        "Someone may be intercepting the connection (man-in-the-middle), or the machine "
        "was reinstalled or got new host keys. --accept-new-host-keys does not override "
        "this. If the new key is genuine (check it on the machine's console with "
        "ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub): {}.{}",
        where_, headline, describe(offered), expected, fixes, rsa_note));
}

std::string hostkey_method_pref(LIBSSH2_SESSION* session, const std::vector<std::string>& types) {
    const char** algs = nullptr;
    int n = libssh2_session_supported_algs(session, LIBSSH2_METHOD_HOSTKEY, &algs);
    if (n <= 0)
        return "";
    std::vector<std::string> supported(algs, algs + n);
    libssh2_free(session, algs);

    std::vector<std::string> order;
    for (const auto& t : types)
        for (const auto& kt : key_types())
            if (t == kt.name)
                for (const auto& a : kt.algorithms)
                    if (std::find(supported.begin(), supported.end(), a) != supported.end())
                        order.push_back(a);
    for (const auto& a : supported)
        if (std::find(order.begin(), order.end(), a) == order.end())
            order.push_back(a);
    std::string pref;
    for (const auto& a : order)
        pref += (pref.empty() ? "" : ",") + a;
    return pref;
}

} // namespace fedi::ssh::detail
