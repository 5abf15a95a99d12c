#include "core/error.hpp"

namespace fedi {

Error::Error(std::string message, ErrorKind kind) : message_(std::move(message)), kind_(kind) {}

Error& Error::with_context(std::string line) {
    context_.push_back(std::move(line));
    return *this;
}

std::string Error::describe() const {
    std::string out = message_;
    for (const auto& line : context_) {
        out += "\n  while ";
        out += line;
    }
    return out;
}

} // namespace fedi
