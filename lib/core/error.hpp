#pragma once
// One error type for the whole library: a message plus "while ..." context lines that
// callers add as the error unwinds, so the user sees which machine, resource and step
// failed and what the remote side said.
#include <stdexcept>
#include <string>
#include <vector>

namespace fedi {

enum class ErrorKind {
    Failure, // something failed at run time (exit code 1)
    Usage,   // bad command line or deployment file (exit code 2)
};

class Error : public std::exception {
  public:
    explicit Error(std::string message, ErrorKind kind = ErrorKind::Failure);

    // Adds a context line ("while pushing to web") and returns *this for rethrowing.
    Error& with_context(std::string line);

    const char* what() const noexcept override { return message_.c_str(); }
    const std::string& message() const { return message_; }
    const std::vector<std::string>& context() const { return context_; }
    ErrorKind kind() const { return kind_; }

    // The message followed by the context lines, innermost first, one per line.
    std::string describe() const;

  private:
    std::string message_;
    std::vector<std::string> context_;
    ErrorKind kind_;
};

// A deployment-file or command-line error (exit code 2).
inline Error usage_error(std::string message) {
    return Error(std::move(message), ErrorKind::Usage);
}

// Runs f(); a fedi::Error escaping it gets `line` added as context, any other exception
// becomes a fedi::Error carrying its what() and the context.
template <typename F> auto with_context(const std::string& line, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (Error& e) {
        e.with_context(line);
        throw;
    } catch (const std::exception& e) {
        Error wrapped(e.what());
        wrapped.with_context(line);
        throw wrapped;
    }
}

} // namespace fedi
