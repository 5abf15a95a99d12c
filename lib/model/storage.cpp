#include "model/storage.hpp"

#include "model/attrs.hpp"
#include "model/secrets.hpp"
#include "model/transport.hpp"

#include <fmt/format.h>
#include <limits>
#include <regex>
#include <set>

namespace fedi::model {

namespace {

// Default relative weight of a Garage node when the deployment gives none.
constexpr std::uint64_t kDefaultCapacity = 1000ULL * 1000 * 1000 * 1000; // 1T

std::optional<std::uint64_t> size_attr(AttrSet& s, const std::string& name) {
    const auto* v = s.get(name);
    if (!v || v->is_null())
        return std::nullopt;
    if (v->is_number_unsigned() || (v->is_number_integer() && v->get<long long>() >= 0))
        return v->get<std::uint64_t>();
    if (v->is_string())
        if (auto n = parse_size(v->get<std::string>()))
            return n;
    s.fail(name, "expected a size such as \"500G\", \"2Ti\" or a number of bytes, got " +
                     describe_value(*v));
}

CredentialSource secret_source(AttrSet& s, const std::string& prefix, bool required) {
    CredentialSource src;
    src.file = s.optional_file(prefix + "File");
    src.env = s.optional_string(prefix + "Env");
    src.origin = s.child_path(prefix + (src.env ? "Env" : "File"));
    if (src.file && src.env)
        s.fail(prefix + "File", fmt::format("give either `{0}File` or `{0}Env`, not both", prefix));
    if (required && !src.given())
        s.fail(prefix + "File",
               fmt::format("missing (`{0}File`, a file holding it, or `{0}Env`, the name of an "
                           "environment variable holding it)",
                           prefix));
    return src;
}

std::string required_url(AttrSet& s, const std::string& name) {
    auto url = s.required_string(name);
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        s.fail(name, "expected an http:// or https:// URL");
    while (!url.empty() && url.back() == '/')
        url.pop_back();
    return url;
}

// storage.<name>.nodes.<machine>: where a Garage node sits and what it weighs.
void parse_garage_node(AttrSet ns, GarageNode& n) {
    n.zone = ns.optional_string("zone").value_or(n.zone);
    if (n.zone.empty())
        ns.fail("zone", "must not be empty");
    n.capacity = size_attr(ns, "capacity");
    if (n.capacity && *n.capacity < 1024)
        ns.fail("capacity", "Garage needs at least 1024 bytes per node");
    n.node_id = ns.optional_string("nodeId");
    static const std::regex id_re("^[0-9a-f]{64}(@[^@\\s]+:[0-9]+)?$");
    if (n.node_id && !std::regex_match(*n.node_id, id_re))
        ns.fail("nodeId", "expected a Garage node id (64 hex digits), optionally "
                          "followed by @ip:port as `garage node id` prints it");
    ns.finish();
}

// One node per machine listed in `machines`, with the settings `nodes` gives it.
std::vector<GarageNode> parse_garage_nodes(AttrSet& s, const std::vector<std::string>& machines) {
    std::vector<GarageNode> out;
    auto nodes = s.optional_set("nodes");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < machines.size(); ++i) {
        if (!seen.insert(machines[i]).second)
            s.fail(fmt::format("machines.{}", i),
                   fmt::format("\"{}\" is listed twice", machines[i]));
        GarageNode n;
        n.machine = machines[i];
        n.zone = machines[i];
        if (nodes && nodes->has(machines[i]))
            parse_garage_node(nodes->required_set(machines[i]), n);
        out.push_back(n);
    }
    if (nodes)
        nodes->finish(); // a node that is not in `machines`
    return out;
}

void parse_garage(AttrSet& s, Storage& st) {
    st.type = StorageType::Garage;
    st.region = s.optional_string("region").value_or("garage");
    st.admin_endpoint = required_url(s, "adminEndpoint");
    st.admin_token = secret_source(s, "adminToken", true);
    auto machines = s.string_list("machines");
    st.capacity = size_attr(s, "capacity").value_or(kDefaultCapacity);
    if (st.capacity < 1024)
        s.fail("capacity", "Garage needs at least 1024 bytes per node");
    st.health_timeout_seconds =
        static_cast<int>(s.optional_int("healthTimeout", 1, 86400).value_or(120));
    unsigned def =
        machines.empty() ? 1 : static_cast<unsigned>(std::min<std::size_t>(3, machines.size()));
    st.replication = static_cast<unsigned>(s.optional_int("replication", 1, 7).value_or(def));
    if (!machines.empty() && st.replication > machines.size())
        s.fail("replication", fmt::format("replication {} needs at least {} machines, {} "
                                          "listed in `machines`",
                                          st.replication, st.replication, machines.size()));
    st.nodes = parse_garage_nodes(s, machines);
}

void parse_rgw(AttrSet& s, Storage& st) {
    st.type = StorageType::Rgw;
    st.region = s.optional_string("region").value_or("us-east-1");
    st.access_key = secret_source(s, "accessKey", true);
    st.secret_key = secret_source(s, "secretKey", true);
}

// Credentials and admin tokens cross only https, unless the storage says otherwise.
void check_endpoints_encrypted(AttrSet& s, const Storage& st) {
    for (const auto& [attr, url] : endpoints(st))
        if (is_plain_http(url) && !st.allow_insecure_http)
            s.fail(attr, fmt::format("{} is plain http: {} would cross the network in clear "
                                     "text; use https://, or set allowInsecureHttp = true for "
                                     "this storage to accept that",
                                     url, what_travels(st.type, attr)));
}

Storage parse_one_storage(const std::string& name, AttrSet s) {
    Storage st;
    st.name = name;
    auto type = s.required_string("type");
    st.allow_insecure_http = s.optional_bool("allowInsecureHttp").value_or(false);
    st.s3_endpoint = required_url(s, "s3Endpoint");
    if (type == "garage")
        parse_garage(s, st);
    else if (type == "rgw")
        parse_rgw(s, st);
    else
        s.fail("type",
               fmt::format("unknown storage type \"{}\" (expected \"garage\" or \"rgw\")", type));
    check_endpoints_encrypted(s, st);
    s.finish();
    return st;
}

Delivery parse_delivery(AttrSet d) {
    Delivery out;
    out.machine = d.required_string("machine");
    out.owner = d.optional_string("owner").value_or("root");
    out.group = d.optional_string("group").value_or(out.owner == "root" ? "root" : out.owner);
    out.mode = parse_mode(d, "mode", 0400);
    out.allow_world_readable = d.optional_bool("allowWorldReadable").value_or(false);
    d.finish();
    return out;
}

BucketKey parse_key(const std::string& name, AttrSet k) {
    BucketKey key;
    key.name = name;
    key.read = k.optional_bool("read").value_or(true);
    key.write = k.optional_bool("write").value_or(false);
    key.owner = k.optional_bool("owner").value_or(false);
    if (!key.read && !key.write && !key.owner)
        k.fail("", "a key with no permission (read, write or owner) is useless");
    if (const auto* v = k.get("deliverTo"); v && !v->is_null()) {
        if (v->is_array()) {
            for (std::size_t i = 0; i < v->size(); ++i)
                key.deliver_to.push_back(parse_delivery(
                    AttrSet((*v)[i], k.child_path("deliverTo") + "." + std::to_string(i))));
        } else {
            key.deliver_to.push_back(parse_delivery(k.required_set("deliverTo")));
        }
    }
    k.finish();
    return key;
}

Bucket parse_bucket(const std::string& name, AttrSet b) {
    Bucket bucket;
    bucket.name = name;
    bucket.storage = b.required_string("storage");
    if (auto q = b.optional_set("quota")) {
        bucket.max_size = size_attr(*q, "maxSize");
        if (auto n = q->optional_int("maxObjects", 1, std::numeric_limits<long long>::max()))
            bucket.max_objects = static_cast<std::uint64_t>(*n);
        q->finish();
    }
    if (const auto* w = b.get("website"); w && !w->is_null()) {
        if (w->is_boolean()) {
            bucket.website = w->get<bool>();
        } else {
            auto ws = b.required_set("website");
            bucket.website = true;
            bucket.index_document = ws.optional_string("indexDocument").value_or("index.html");
            bucket.error_document = ws.optional_string("errorDocument").value_or("");
            ws.finish();
        }
    }
    if (auto keys = b.optional_set("keys")) {
        static const std::regex key_re("^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$");
        for (const auto& [kname, value] : b.get("keys")->items()) {
            keys->get(kname);
            if (!std::regex_match(kname, key_re))
                keys->fail(kname, "invalid key name (letters, digits, '_' and '-')");
            bucket.keys.emplace(kname, parse_key(kname, AttrSet(value, keys->child_path(kname))));
        }
    }
    b.finish();
    return bucket;
}

} // namespace

std::vector<std::string> Storage::machines() const {
    std::vector<std::string> out;
    for (const auto& n : nodes)
        out.push_back(n.machine);
    return out;
}

std::string key_file_name(const std::string& bucket, const std::string& key) {
    return bucket + "-" + key + ".env";
}

std::optional<std::uint64_t> parse_size(const std::string& text) {
    static const std::regex re("^([0-9]+)\\s*([KMGTP]?)(i?)B?$");
    std::smatch m;
    if (!std::regex_match(text, m, re))
        return std::nullopt;
    std::uint64_t n = 0;
    try {
        n = std::stoull(m[1].str());
    } catch (const std::exception&) {
        return std::nullopt;
    }
    std::uint64_t unit = m[3].length() ? 1024 : 1000;
    std::string suffix = m[2].str();
    int power = suffix.empty() ? 0 : static_cast<int>(std::string("KMGTP").find(suffix[0])) + 1;
    for (int i = 0; i < power; ++i) {
        if (n > std::numeric_limits<std::uint64_t>::max() / unit)
            return std::nullopt;
        n *= unit;
    }
    return n;
}

void parse_storage_section(AttrSet& top, std::map<std::string, Storage>& storage,
                           std::map<std::string, Bucket>& buckets) {
    static const std::regex name_re("^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$");
    if (auto set = top.optional_set("storage")) {
        for (const auto& [name, value] : top.get("storage")->items()) {
            set->get(name);
            if (!std::regex_match(name, name_re))
                set->fail(name, "invalid storage name (letters, digits, '_' and '-')");
            storage.emplace(name, parse_one_storage(name, AttrSet(value, set->child_path(name))));
        }
    }
    if (auto set = top.optional_set("buckets")) {
        // S3's rules, kept to what every backend accepts (no dots: path-style and TLS).
        static const std::regex bucket_re("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$");
        for (const auto& [name, value] : top.get("buckets")->items()) {
            set->get(name);
            if (!std::regex_match(name, bucket_re))
                set->fail(name, "invalid bucket name (3 to 63 of a-z, 0-9 and '-', starting and "
                                "ending with a letter or digit)");
            buckets.emplace(name, parse_bucket(name, AttrSet(value, set->child_path(name))));
        }
    }
}

void check_storage_references(const std::map<std::string, Storage>& storage,
                              const std::map<std::string, Bucket>& buckets,
                              const std::vector<std::string>& machine_names) {
    std::set<std::string> machines(machine_names.begin(), machine_names.end());
    std::map<std::string, std::string> cluster_of;
    for (const auto& [name, s] : storage)
        for (std::size_t i = 0; i < s.nodes.size(); ++i) {
            const auto& m = s.nodes[i].machine;
            if (!machines.count(m))
                throw usage_error(
                    fmt::format("storage.{}.machines.{}: no machine named \"{}\"", name, i, m));
            auto [it, fresh] = cluster_of.emplace(m, name);
            if (!fresh)
                throw usage_error(fmt::format("storage.{}.machines.{}: machine \"{}\" is already "
                                              "a node of storage.{}",
                                              name, i, m, it->second));
        }
    std::map<std::string, std::map<std::string, std::string>> files; // machine → file → key
    for (const auto& [name, b] : buckets) {
        if (!storage.count(b.storage))
            throw usage_error(
                fmt::format("buckets.{}.storage: no storage named \"{}\"", name, b.storage));
        const auto& st = storage.at(b.storage);
        for (const auto& [kname, k] : b.keys) {
            std::string path = fmt::format("buckets.{}.keys.{}", name, kname);
            if (st.type == StorageType::Rgw && (!k.read || !k.write))
                throw usage_error(fmt::format(
                    "{}: storage.{} is Ceph RGW, where fedi gives every key of a bucket full "
                    "access; read-only or write-only keys need Garage",
                    path, b.storage));
            for (std::size_t i = 0; i < k.deliver_to.size(); ++i) {
                const auto& d = k.deliver_to[i];
                std::string where = k.deliver_to.size() == 1
                                        ? path + ".deliverTo"
                                        : fmt::format("{}.deliverTo.{}", path, i);
                if (!machines.count(d.machine))
                    throw usage_error(
                        fmt::format("{}.machine: no machine named \"{}\"", where, d.machine));
                auto file = key_file_name(name, kname);
                auto [it, fresh] = files[d.machine].emplace(file, path);
                if (!fresh)
                    throw usage_error(fmt::format("{}: {} would receive {} twice (also from {})",
                                                  where, d.machine, file, it->second));
            }
        }
        if (st.type == StorageType::Rgw && (b.max_size || b.max_objects || b.website))
            throw usage_error(fmt::format("buckets.{}: quotas and websites are only supported on "
                                          "Garage storage (storage.{} is Ceph RGW)",
                                          name, b.storage));
    }
}

nlohmann::json to_json(const Storage& s) {
    auto secret = [](const CredentialSource& src) {
        if (src.file)
            return nlohmann::json{{"file", *src.file}};
        if (src.env)
            return nlohmann::json{{"env", *src.env}};
        return nlohmann::json();
    };
    nlohmann::json j = {{"type", s.type == StorageType::Garage ? "garage" : "rgw"},
                        {"s3Endpoint", s.s3_endpoint},
                        {"region", s.region},
                        {"allowInsecureHttp", s.allow_insecure_http}};
    if (s.type == StorageType::Garage) {
        j["adminEndpoint"] = s.admin_endpoint;
        j["adminToken"] = secret(s.admin_token);
        j["replication"] = s.replication;
        j["healthTimeout"] = s.health_timeout_seconds;
        nlohmann::json nodes = nlohmann::json::array();
        for (const auto& n : s.nodes) {
            nlohmann::json nj = {{"machine", n.machine},
                                 {"zone", n.zone},
                                 {"capacity", n.capacity.value_or(s.capacity)}};
            nj["nodeId"] = n.node_id ? nlohmann::json(*n.node_id) : nlohmann::json();
            nodes.push_back(nj);
        }
        j["nodes"] = nodes;
    } else {
        j["accessKey"] = secret(s.access_key);
        j["secretKey"] = secret(s.secret_key);
    }
    return j;
}

nlohmann::json to_json(const Bucket& b) {
    nlohmann::json keys = nlohmann::json::object();
    for (const auto& [name, k] : b.keys) {
        nlohmann::json to = nlohmann::json::array();
        for (const auto& d : k.deliver_to)
            to.push_back({{"machine", d.machine},
                          {"owner", d.owner},
                          {"group", d.group},
                          {"mode", fmt::format("{:04o}", d.mode)},
                          {"allowWorldReadable", d.allow_world_readable},
                          {"file", key_file_name(b.name, name)}});
        keys[name] = {{"read", k.read}, {"write", k.write}, {"owner", k.owner}, {"deliverTo", to}};
    }
    nlohmann::json j = {{"storage", b.storage}, {"website", b.website}, {"keys", keys}};
    j["quota"] = {
        {"maxSize", b.max_size ? nlohmann::json(*b.max_size) : nlohmann::json()},
        {"maxObjects", b.max_objects ? nlohmann::json(*b.max_objects) : nlohmann::json()}};
    if (b.website)
        j["websiteConfig"] = {{"indexDocument", b.index_document},
                              {"errorDocument", b.error_document}};
    return j;
}

} // namespace fedi::model
