#pragma once
// An enum's names for messages, state and JSON, kept in one table per enum, so that
// printing and parsing a value cannot disagree.
#include <optional>
#include <string>
#include <string_view>

namespace fedi {

template <typename E> struct EnumName {
    E value;
    std::string_view name;
};

// The name `value` has in `names` ("?" when the table lacks it).
template <typename E, std::size_t N> std::string name_of(E value, const EnumName<E> (&names)[N]) {
    for (const auto& n : names)
        if (n.value == value)
            return std::string(n.name);
    return "?";
}

// The value named `text` in `names`, if any.
template <typename E, std::size_t N>
std::optional<E> value_named(std::string_view text, const EnumName<E> (&names)[N]) {
    for (const auto& n : names)
        if (n.name == text)
            return n.value;
    return std::nullopt;
}

// Marks a class that owns something (a process, a connection) and so is never copied.
class NonCopyable {
  public:
    NonCopyable(const NonCopyable&) = delete;
    NonCopyable& operator=(const NonCopyable&) = delete;

  protected:
    NonCopyable() = default;
    ~NonCopyable() = default;
};

} // namespace fedi
