#include "account/services.hpp"

#include "account/password.hpp"
#include "core/error.hpp"
#include "core/process.hpp"

#include <fmt/format.h>
#include <regex>
#include <sstream>

namespace fedi::account {

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
            line.pop_back();
        std::size_t start = line.find_first_not_of(' ');
        if (start != std::string::npos)
            out.push_back(line.substr(start));
    }
    return out;
}

bool has_line(const std::string& text, const std::string& wanted) {
    for (const auto& l : lines_of(text))
        if (l == wanted)
            return true;
    return false;
}

// ---- Mastodon: mastodon-tootctl accounts ... (Mastodon 4.x, lib/mastodon/cli/accounts.rb)

class Mastodon : public ServiceDriver {
  public:
    Ensured ensure(host::Host& h, const model::Account& a, const AccountRecord& record) override {
        // `accounts create` is not idempotent: ask first.
        Ensured e;
        if (exists(h, a, record)) {
            // Bring the declared role and e-mail to it (--confirm makes the address take
            // effect at once; --approve in case registrations need approval).
            auto r = tootctl(h, {"modify", a.username, "--role", a.role, "--email", a.email,
                                 "--confirm", "--approve"});
            if (r.exit_status != 0)
                throw Error(fmt::format("mastodon-tootctl accounts modify {} failed: {}",
                                        a.username, mastodon_error(r.err)));
            return e;
        }
        // --reattach: a deleted account leaves a tombstone that keeps its username; this
        // takes it over. Without --force it never touches a live user.
        auto r = tootctl(h, {"create", a.username, "--email=" + a.email, "--confirmed",
                             "--role=" + a.role, "--approve", "--reattach"});
        if (r.exit_status != 0)
            throw Error(fmt::format("mastodon-tootctl accounts create {} failed: {}", a.username,
                                    mastodon_error(r.err)));
        auto pw = parse_mastodon_password(r.out);
        if (!pw)
            throw Error(fmt::format("mastodon-tootctl accounts create {} printed no new password "
                                    "(is the username in use? {})",
                                    a.username, first_line_without_password(r.out)));
        e.created = true;
        e.password = *pw;
        return e;
    }

    bool exists(host::Host& h, const model::Account& a, const AccountRecord&) override {
        // `modify USERNAME` with no option changes nothing and says whether the user exists.
        auto probe = tootctl(h, {"modify", a.username});
        if (probe.exit_status == 0)
            return true;
        if (probe.err.find("No user with such username") == std::string::npos)
            throw Error(fmt::format("mastodon-tootctl accounts modify {} failed (exit status {}): "
                                    "{}",
                                    a.username, probe.exit_status, mastodon_error(probe.err)));
        return false;
    }

    std::string reset_password(host::Host& h, const model::Account& a,
                               const std::string&) override {
        auto r = tootctl(h, {"modify", a.username, "--reset-password"});
        if (r.exit_status != 0)
            throw Error(fmt::format("mastodon-tootctl accounts modify {} --reset-password failed: "
                                    "{}",
                                    a.username, mastodon_error(r.err)));
        auto pw = parse_mastodon_password(r.out);
        if (!pw)
            throw Error("mastodon-tootctl printed no new password");
        return *pw;
    }

    void remove(host::Host& h, const model::Account& a) override {
        auto r = tootctl(h, {"delete", a.username});
        if (r.exit_status != 0 && r.err.find("No user with such username") == std::string::npos)
            throw Error(fmt::format("mastodon-tootctl accounts delete {} failed: {}", a.username,
                                    mastodon_error(r.err)));
    }

  private:
    static host::CommandResult tootctl(host::Host& h, std::vector<std::string> args) {
        args.insert(args.begin(), {"mastodon-tootctl", "accounts"});
        return h.run_with_input(shell_join(args) + " </dev/null", "");
    }

    static std::string first_line_without_password(const std::string& out) {
        for (const auto& l : lines_of(out))
            if (l.find("password") == std::string::npos)
                return l;
        return "no output";
    }
};

// ---- Pixelfed: pixelfed-manage user:... (php artisan; Pixelfed 0.12)

// The tool asks its questions only when SHELL_INTERACTIVE is set (stdin is a pipe), and
// its NixOS wrapper goes through sudo (which drops the environment) unless $USER is
// pixelfed: run it as pixelfed directly when that user exists and we are root.
std::string pixelfed_command(const std::vector<std::string>& args) {
    std::string words = shell_join(args);
    return fmt::format("if [ \"$(id -u)\" = 0 ] && id pixelfed >/dev/null 2>&1; then "
                       "exec runuser -u pixelfed -- env USER=pixelfed SHELL_INTERACTIVE=1 "
                       "pixelfed-manage {0}; else SHELL_INTERACTIVE=1 exec pixelfed-manage {0}; fi",
                       words);
}

class Pixelfed : public ServiceDriver {
  public:
    Ensured ensure(host::Host& h, const model::Account& a, const AccountRecord& record) override {
        Ensured e;
        if (exists(h, a, record))
            return e;
        if (record.password.empty())
            throw Error("no password chosen for the new Pixelfed account");
        // `user:create --password=...` would put the password in ps; answered on stdin
        // instead: name, username, e-mail, password twice, admin, verified, sure.
        std::string answers = fmt::format("{}\n{}\n{}\n{}\n{}\nyes\nyes\nyes\n", a.display_name,
                                          a.username, a.email, record.password, record.password);
        auto r = h.run_with_input(pixelfed_command({"user:create"}), answers);
        if (r.exit_status != 0 || !has_line(r.out, "Created new user!"))
            throw Error(fmt::format("pixelfed-manage user:create {} failed (exit status {}): {}",
                                    a.username, r.exit_status, pixelfed_error(r.out, r.err)));
        if (!exists(h, a, record))
            throw Error(fmt::format("pixelfed-manage user:create said it created {}, but "
                                    "user:show does not find it",
                                    a.username));
        e.created = true;
        return e;
    }

    std::string reset_password(host::Host& h, const model::Account& a,
                               const std::string& proposed) override {
        auto r = h.run_with_input(pixelfed_command({"user:setpassword", a.username}),
                                  proposed + "\n" + proposed + "\nyes\n");
        if (r.exit_status != 0 ||
            r.out.find("Successfully updated the password") == std::string::npos) {
            std::string why = pixelfed_error(r.out, r.err);
            if (why.find("is not defined") != std::string::npos)
                why += " (this Pixelfed has no user:setpassword; it came after 0.12)";
            throw Error(
                fmt::format("pixelfed-manage user:setpassword {} failed: {}", a.username, why));
        }
        return proposed;
    }

    void remove(host::Host& h, const model::Account& a) override {
        if (!exists(h, a, {}))
            return;
        // An admin cannot be deleted from the command line: take the admin role first
        // (user:admin toggles it after a question).
        for (int attempt = 0; attempt < 2; ++attempt) {
            auto r = h.run_with_input(pixelfed_command({"user:delete", a.username}),
                                      "yes\n" + a.username + "\n");
            if (has_line(r.out, "Cannot delete an admin account from CLI.") && attempt == 0) {
                auto t = h.run_with_input(pixelfed_command({"user:admin", a.username}), "yes\n");
                if (!has_line(t.out, "Successfully changed permissions!"))
                    throw Error(fmt::format("pixelfed-manage user:admin {} failed: {}", a.username,
                                            pixelfed_error(t.out, t.err)));
                continue;
            }
            if (r.exit_status != 0)
                throw Error(fmt::format("pixelfed-manage user:delete {} failed: {}", a.username,
                                        pixelfed_error(r.out, r.err)));
            return;
        }
    }

    bool exists(host::Host& h, const model::Account& a, const AccountRecord&) override {
        auto r = h.run_with_input(pixelfed_command({"user:show", a.username}), "");
        if (r.exit_status != 0)
            throw Error(fmt::format("pixelfed-manage user:show {} failed (exit status {}): {}",
                                    a.username, r.exit_status, pixelfed_error(r.out, r.err)));
        // Found: "User ID: N" / "Username: U"; not found: a message, exit status 0.
        for (const auto& l : lines_of(r.out))
            if (l.rfind("Username: ", 0) == 0)
                return true;
        return false;
    }
};

// ---- PeerTube: the service creates root at its first start from
// PT_INITIAL_ROOT_PASSWORD; later, server/scripts/reset-password.ts reads one line.

class Peertube : public ServiceDriver {
  public:
    Ensured ensure(host::Host& h, const model::Account& a, const AccountRecord& record) override {
        if (record.password.empty())
            throw Error("no password chosen for PeerTube's root");
        // No read-only way to ask whether root exists or what its password is: setting
        // the password fedi keeps is both the check and the convergence (the initial
        // password counts only if the database was empty at the service's first start).
        Ensured e;
        e.created = !exists(h, a, record);
        if (e.created) {
            // PeerTube writes the initial password to its log in clear at the first start:
            // give root a new one at once, so that the logged one opens nothing.
            e.password = random_password(32);
            set_password(h, a, *e.password, true);
        } else {
            set_password(h, a, record.password, true);
        }
        return e;
    }

    bool exists(host::Host&, const model::Account&, const AccountRecord& record) override {
        // No read-only way to ask PeerTube: root exists for fedi once it set its password.
        return record.present;
    }

    std::string reset_password(host::Host& h, const model::Account& a,
                               const std::string& proposed) override {
        set_password(h, a, proposed, false);
        return proposed;
    }

    void remove(host::Host&, const model::Account& a) override {
        throw Error(fmt::format("PeerTube's {} account cannot be deleted (it is the instance's "
                                "administrator); remove accounts.<name> and fedi forgets it",
                                a.username));
    }

  private:
    static void set_password(host::Host& h, const model::Account& a, const std::string& pw,
                             bool first) {
        // peertube-env evaluates its arguments again: one shell-quoted string.
        std::string inner = shell_join({"peertube-reset-password", "-u", a.username});
        auto r = h.run_with_input(shell_join({"peertube-env", inner}), pw + "\n");
        if (r.exit_status == 0 && has_line(r.out, "User password updated."))
            return;
        if (r.err.find("Unknown user.") != std::string::npos)
            throw Error(fmt::format(
                "PeerTube has no user {}{}", a.username,
                first ? ": it creates root at its first start, from PT_INITIAL_ROOT_PASSWORD in "
                        "the environment file fedi delivers; is peertube.service running with "
                        "serviceEnvironmentFile set (resources/nixos/peertube.nix)?"
                      : ""));
        std::string why = lines_of(r.err).empty() ? "no message" : lines_of(r.err).back();
        throw Error(fmt::format("PeerTube's reset-password for {} failed (exit status {}): {}",
                                a.username, r.exit_status, why));
    }
};

} // namespace

std::optional<std::string> parse_mastodon_password(const std::string& out) {
    static const std::regex re("^New password: (\\S+)$");
    std::smatch m;
    for (const auto& l : lines_of(out))
        if (std::regex_match(l, m, re))
            return m[1].str();
    return std::nullopt;
}

std::string mastodon_error(const std::string& err) {
    // "Failure/Error: ATTRIBUTE" / "    TYPE" pairs become "ATTRIBUTE TYPE".
    auto ls = lines_of(err);
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < ls.size(); ++i) {
        if (ls[i].rfind("Failure/Error: ", 0) == 0 && i + 1 < ls.size()) {
            parts.push_back(ls[i].substr(15) + " " + ls[i + 1]);
            ++i;
        } else {
            parts.push_back(ls[i]);
        }
    }
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : "; ") + p;
    if (out.find("account.username reserved") != std::string::npos)
        out += " (Mastodon reserves admin, root, support, help, webmaster, administrator, mod "
               "and moderator: choose another username)";
    return out.empty() ? "no message" : out;
}

std::string pixelfed_error(const std::string& out, const std::string& err) {
    // The database error quotes the whole SQL insert (password hash included): keep the
    // part before it.
    for (const auto& l : lines_of(err)) {
        auto pos = l.find("SQLSTATE[");
        if (pos != std::string::npos) {
            std::string msg = l.substr(pos);
            auto cut = msg.find(" (Connection:");
            return msg.substr(0, cut);
        }
    }
    auto el = lines_of(err);
    if (!el.empty())
        return el.back();
    auto ol = lines_of(out);
    for (auto it = ol.rbegin(); it != ol.rend(); ++it)
        if (it->front() != '>' && it->back() != ':' && it->back() != ']')
            return *it;
    return "no message";
}

std::unique_ptr<ServiceDriver> driver_for(const std::string& service) {
    if (service == "mastodon")
        return std::make_unique<Mastodon>();
    if (service == "pixelfed")
        return std::make_unique<Pixelfed>();
    if (service == "peertube")
        return std::make_unique<Peertube>();
    throw Error("no driver for service " + service);
}

} // namespace fedi::account
