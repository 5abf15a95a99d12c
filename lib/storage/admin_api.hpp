#pragma once
// What the storage admin clients (Garage, RGW) share: the error an admin API answered,
// the endpoint check, and reading JSON answers field by field, naming the operation when
// an answer is not what was expected.
#include "core/error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace fedi::storage {

// An error a storage admin API answered, with its code ("BucketNotEmpty", "NoSuchUser")
// and HTTP status. The message is admin_error_message's.
class AdminError : public Error {
  public:
    AdminError(std::string message, long status, std::string code)
        : Error(std::move(message)), status_(status), code_(std::move(code)) {}
    long status() const { return status_; }
    const std::string& code() const { return code_; } // empty when the answer had none

  private:
    long status_;
    std::string code_;
};

// "<service> <operation>: <code>: <message> (HTTP <status>)", or as much of it as the
// answer gave (an excerpt of the body when it had neither code nor message).
std::string admin_error_message(std::string_view service, std::string_view operation, long status,
                                std::string_view code, std::string_view message,
                                std::string_view body);

// The endpoint without trailing slashes; a usage error naming `what` ("RGW endpoint")
// unless it starts with http:// or https://.
std::string checked_endpoint(std::string endpoint, std::string_view what);

// An answer's body as JSON (null when empty); an error naming the operation otherwise.
nlohmann::json json_answer(std::string_view service, std::string_view operation,
                           const std::string& body);

// nlohmann converts a float to an integer with a plain cast, undefined behaviour when the
// float is out of range (1e300): counts, sizes and versions must be integers. The error
// is nlohmann's own type_error, so that parsing() names the operation as for any other
// wrong shape.
template <typename T> void check_integer(const nlohmann::json& v, const char* name) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
        if (v.is_number_float())
            throw nlohmann::json::type_error::create(
                302, fmt::format("\"{}\" is {}, not an integer", name, v.dump()), &v);
}

// Reads j[name] into out when present and not null (an optional is reset otherwise).
template <typename T> void opt_field(const nlohmann::json& j, const char* name, T& out) {
    if (auto it = j.find(name); it != j.end() && !it->is_null()) {
        check_integer<T>(*it, name);
        it->get_to(out);
    }
}

template <typename T>
void opt_field(const nlohmann::json& j, const char* name, std::optional<T>& out) {
    if (auto it = j.find(name); it != j.end() && !it->is_null()) {
        check_integer<T>(*it, name);
        out = it->get<T>();
    } else {
        out.reset();
    }
}

// A field that must be there: read_fields(j, required("id"), v.id, "name", v.name).
struct Required {
    const char* name;
};
inline Required required(const char* name) {
    return {name};
}

template <typename T> void read_field(const nlohmann::json& j, Required field, T& out) {
    const auto& value = j.at(field.name);
    check_integer<T>(value, field.name);
    value.get_to(out);
}

template <typename T> void read_field(const nlohmann::json& j, const char* name, T& out) {
    opt_field(j, name, out);
}

// Reads each (name, reference) pair: a plain name with opt_field, required(name) as a
// field that must be there.
inline void read_fields(const nlohmann::json&) {}

template <typename N, typename T, typename... Rest>
void read_fields(const nlohmann::json& j, N name, T& out, Rest&&... rest) {
    read_field(j, name, out);
    read_fields(j, std::forward<Rest>(rest)...);
}

// Runs f (which reads an answer), naming the service and operation when the answer's
// shape is not what was expected.
template <typename F>
auto parsing(std::string_view service, std::string_view operation, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("{} {}: unexpected answer: {}", service, operation, e.what()));
    }
}

} // namespace fedi::storage
