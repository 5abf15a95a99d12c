#pragma once
// The services' own admin commands, run over SSH on the service's machine: one driver
// per service behind one interface. Passwords reach the commands on stdin (or come back
// on stdout), never on a command line; the drivers' errors never quote them.
#include "account/records.hpp"
#include "host/host.hpp"
#include "model/accounts.hpp"

#include <memory>
#include <optional>
#include <string>

namespace fedi::account {

struct Ensured {
    bool created = false; // false: it existed already
    // Set when the service made up (or fedi set) the password now.
    std::optional<std::string> password;
};

class ServiceDriver {
  public:
    virtual ~ServiceDriver() = default;
    // Makes the account exist as declared (creating it, or bringing the declared
    // attributes to an existing one). `record` holds what fedi knows (its password when
    // fedi chose it).
    virtual Ensured ensure(host::Host& h, const model::Account& a, const AccountRecord& record) = 0;
    // Whether the account exists, asked read-only: ensure creates it when not, and a plan
    // says it would. A service with no read-only way to ask answers from `record`.
    virtual bool exists(host::Host& h, const model::Account& a, const AccountRecord& record) = 0;
    // Gives the account a new password and returns it. `proposed` is a fresh random one,
    // for services that take their password from fedi.
    virtual std::string reset_password(host::Host& h, const model::Account& a,
                                       const std::string& proposed) = 0;
    virtual void remove(host::Host& h, const model::Account& a) = 0;
};

std::unique_ptr<ServiceDriver> driver_for(const std::string& service);

// Exposed for unit tests: reading the tools' outputs.
std::optional<std::string> parse_mastodon_password(const std::string& out);
std::string mastodon_error(const std::string& err);
std::string pixelfed_error(const std::string& out, const std::string& err);

} // namespace fedi::account
