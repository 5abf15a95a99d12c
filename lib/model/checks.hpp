#pragma once
// Pre-flight checks: everything about a deployment that can be known without touching a
// machine, so that `fedi eval` and deploy refuse it before anything is built or changed.
// The predicates are the rules; check_deployment applies them to a parsed model and
// throws a usage error naming the attribute path at fault.
#include <optional>
#include <string>
#include <string_view>

namespace fedi::model {

struct Deployment;

// A file name in the machine's secrets directory: letters, digits, '.', '_' and '-',
// starting with a letter or digit (no '/', no "..", nothing a shell treats specially).
bool safe_file_name(std::string_view name);

// A user or group name as useradd and chown accept it (or a numeric id).
bool posix_account_name(std::string_view name);

// An SSH login name: a user name as the machine's passwd would hold it.
bool valid_ssh_user(std::string_view user);

// An SSH host: a DNS name (RFC 1123 labels), an IPv4 address or an IPv6 address.
bool valid_ssh_host(std::string_view host);

// An e-mail address in RFC 5322's common subset: a dot-atom local part (letters, digits
// and !#$%&'*+-/=?^_`{|}~, dots between atoms) and a DNS domain of two labels or more
// (mail is not delivered to "localhost").
bool valid_email(std::string_view address);

// Why a secret file with `mode` is refused, or nullopt. Readable by others needs
// `allow_world_readable`; writable by others is never accepted.
std::optional<std::string> mode_problem(unsigned mode, bool allow_world_readable);

// Why `service` refuses `username` for a new account, or nullopt.
std::optional<std::string> reserved_username(const std::string& service,
                                             const std::string& username);

// The host label a machine name becomes for a container ("S3_1" -> "s3-1").
std::string host_label(std::string_view machine);

// Applies the checks above to a parsed deployment (throws usage_error naming the path).
void check_deployment(const Deployment& d);

} // namespace fedi::model
