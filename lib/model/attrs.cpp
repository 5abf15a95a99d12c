#include "model/attrs.hpp"

#include <fmt/format.h>

namespace fedi::model {

namespace {
std::string marker(const nlohmann::json& v) {
    if (v.is_object() && v.contains("__fedi") && v["__fedi"].is_string())
        return v["__fedi"].get<std::string>();
    return {};
}

// The file name of an evaluated path ({"__fedi": "path", "value": ...}), if it has one.
std::optional<std::string> path_value(const nlohmann::json& v) {
    auto it = v.find("value");
    if (it == v.end() || !it->is_string())
        return std::nullopt;
    return it->get<std::string>();
}
} // namespace

std::string describe_value(const nlohmann::json& v) {
    auto m = marker(v);
    if (m == "derivation")
        return "a derivation";
    if (m == "function")
        return "a function";
    if (m == "path")
        return fmt::format("a path ({})", path_value(v).value_or("without a file name"));
    switch (v.type()) {
    case nlohmann::json::value_t::null:
        return "null";
    case nlohmann::json::value_t::boolean:
        return fmt::format("a boolean ({})", v.get<bool>() ? "true" : "false");
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
        return fmt::format("an integer ({})", v.dump());
    case nlohmann::json::value_t::number_float:
        return fmt::format("a float ({})", v.dump());
    case nlohmann::json::value_t::string: {
        auto s = v.get<std::string>();
        if (s.size() > 40)
            s = s.substr(0, 37) + "...";
        return fmt::format("a string (\"{}\")", s);
    }
    case nlohmann::json::value_t::array:
        return "a list";
    case nlohmann::json::value_t::object:
        return "an attribute set";
    default:
        return "an unknown value";
    }
}

bool is_derivation(const nlohmann::json& v) {
    return marker(v) == "derivation";
}

AttrSet::AttrSet(const nlohmann::json& value, std::string path)
    : value_(value), path_(std::move(path)) {
    if (!value_.is_object() || !marker(value_).empty())
        throw usage_error(fmt::format("{}: expected an attribute set, got {}",
                                      path_.empty() ? "the deployment" : path_,
                                      describe_value(value_)));
}

bool AttrSet::has(const std::string& name) const {
    return value_.contains(name);
}

std::string AttrSet::child_path(const std::string& name) const {
    if (name.empty())
        return path_;
    return path_.empty() ? name : path_ + "." + name;
}

const nlohmann::json* AttrSet::get(const std::string& name) {
    known_.insert(name);
    auto it = value_.find(name);
    if (it == value_.end())
        return nullptr;
    return &*it;
}

void AttrSet::fail(const std::string& name, const std::string& message) const {
    throw usage_error(fmt::format("{}: {}", child_path(name), message));
}

std::string AttrSet::required_string(const std::string& name) {
    auto v = optional_string(name);
    if (!v)
        fail(name, "missing (a string is required)");
    return *v;
}

std::optional<std::string> AttrSet::optional_string(const std::string& name) {
    auto* v = get(name);
    if (!v || v->is_null())
        return std::nullopt;
    if (!v->is_string())
        fail(name, "expected a string, got " + describe_value(*v));
    return v->get<std::string>();
}

std::optional<std::string> AttrSet::optional_file(const std::string& name) {
    auto* v = get(name);
    if (!v || v->is_null())
        return std::nullopt;
    if (marker(*v) == "path") {
        auto file = path_value(*v);
        if (!file)
            fail(name, "expected a file name, got a path without one");
        return file;
    }
    if (!v->is_string())
        fail(name, "expected a file name (string or path), got " + describe_value(*v));
    return v->get<std::string>();
}

std::optional<long long> AttrSet::optional_int(const std::string& name, long long min,
                                               long long max) {
    auto* v = get(name);
    if (!v || v->is_null())
        return std::nullopt;
    if (!v->is_number_integer())
        fail(name, "expected an integer, got " + describe_value(*v));
    long long n = v->get<long long>();
    if (n < min || n > max)
        fail(name, fmt::format("{} is out of range ({}..{})", n, min, max));
    return n;
}

std::optional<bool> AttrSet::optional_bool(const std::string& name) {
    auto* v = get(name);
    if (!v || v->is_null())
        return std::nullopt;
    if (!v->is_boolean())
        fail(name, "expected a boolean, got " + describe_value(*v));
    return v->get<bool>();
}

std::vector<std::string> AttrSet::string_list(const std::string& name) {
    auto* v = get(name);
    std::vector<std::string> out;
    if (!v || v->is_null())
        return out;
    if (!v->is_array())
        fail(name, "expected a list of strings, got " + describe_value(*v));
    for (std::size_t i = 0; i < v->size(); ++i) {
        const auto& item = (*v)[i];
        if (!item.is_string())
            fail(fmt::format("{}.{}", name, i), "expected a string, got " + describe_value(item));
        out.push_back(item.get<std::string>());
    }
    return out;
}

AttrSet AttrSet::required_set(const std::string& name) {
    auto* v = get(name);
    if (!v)
        fail(name, "missing (an attribute set is required)");
    return AttrSet(*v, child_path(name));
}

std::optional<AttrSet> AttrSet::optional_set(const std::string& name) {
    auto* v = get(name);
    if (!v || v->is_null())
        return std::nullopt;
    return AttrSet(*v, child_path(name));
}

void AttrSet::finish() const {
    for (const auto& [name, value] : value_.items()) {
        (void)value;
        if (known_.count(name))
            continue;
        std::string expected;
        for (const auto& k : known_)
            expected += (expected.empty() ? "" : ", ") + k;
        fail(name, fmt::format("unknown attribute (expected one of: {})", expected));
    }
}

} // namespace fedi::model
