// The plan for a terminal. Layout: one block per machine (its provisioning, system with
// closure diff, secrets, accounts, errors), then storage, directory, machines to destroy,
// the plan's own errors, and the summary line.
#include "plan/render.hpp"

#include "ui/output.hpp"

#include <fmt/format.h>
#include <numeric>

namespace fedi::plan {

namespace {

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : sep) + p;
    return out;
}

const char* colour_of(Action a) {
    switch (a) {
    case Action::Create:
        return "32";
    case Action::Update:
        return "33";
    case Action::Replace:
        return "35";
    case Action::Destroy:
        return "31";
    case Action::None:
        break;
    }
    return "0";
}

// Collects the lines; colours only when asked (NO_COLOR and --color are the caller's).
class Writer {
  public:
    explicit Writer(bool color) : color_(color) {}
    std::string paint(const char* code, const std::string& text) const {
        return color_ ? fmt::format("\x1b[{}m{}\x1b[0m", code, text) : text;
    }
    void heading(const std::string& text) { out_ += paint("1", text) + "\n"; }
    // "  ~ what": one thing that changes.
    void item(Action a, const std::string& text) {
        out_ += "  " + paint(colour_of(a), marker(a)) + " " + text + "\n";
    }
    // A detail of the item above it.
    void detail(const std::string& text) { out_ += "      " + text + "\n"; }
    void error(const std::string& indent, std::string text) {
        const std::string prefix = "error: "; // Nix's messages say it already
        if (text.rfind(prefix, 0) == 0)
            text.erase(0, prefix.size());
        out_ += indent + paint("31", "error:") + " " + text + "\n";
    }
    void text(const std::string& text) { out_ += text; }
    std::string str() const { return out_; }

  private:
    bool color_;
    std::string out_;
};

std::string field_change(const FieldChange& c) {
    if (c.from.empty())
        return fmt::format("{}: {}", c.what, c.to);
    return fmt::format("{}: {} → {}", c.what, c.from, c.to.empty() ? "∅" : c.to);
}

std::string signed_bytes(std::int64_t delta) {
    auto size = ui::human_bytes(static_cast<unsigned long long>(delta < 0 ? -delta : delta));
    return (delta < 0 ? "-" : "+") + size;
}

// "firefox: 119.0 → 120.0, +2.1 MiB", as `nix store diff-closures` writes it.
std::string package_line(const PackageChange& pc) {
    auto versions = [](const std::vector<std::string>& v) {
        return v.empty() ? std::string("∅") : join(v, ", ");
    };
    auto line = fmt::format("{}: {} → {}", pc.name, versions(pc.from), versions(pc.to));
    if (pc.size_delta != 0)
        line += ", " + signed_bytes(pc.size_delta);
    return line;
}

std::string with_reasons(const std::string& text, const std::vector<std::string>& reasons) {
    return reasons.empty() ? text : text + ": " + join(reasons, ", ");
}

void provision_lines(Writer& w, const ProvisionPlan& p) {
    if (p.action == Action::None)
        return;
    auto what = p.type + (p.id.empty() ? "" : " " + p.id) +
                (p.provider.empty() ? "" : " (providers." + p.provider + ")");
    if (p.action == Action::Create)
        w.item(p.action, what + ": create");
    else if (p.action == Action::Update)
        w.item(p.action, what + ": update in place");
    else if (p.action == Action::Replace)
        w.item(p.action, what + ": cannot change in place: " + p.why);
    else
        w.item(p.action, what + ": destroy" + (p.why.empty() ? "" : ": " + p.why));
    for (const auto& c : p.changes)
        w.detail(field_change(c));
    for (const auto& c : p.fixed)
        w.detail(field_change(c) + " (fixed)");
}

void system_lines(Writer& w, const SystemPlan& s) {
    if (!s.changes())
        return;
    w.item(s.current.empty() ? Action::Create : Action::Update, "system " + s.system);
    if (!s.current.empty() && s.current != s.system)
        w.detail("running " + s.current +
                 (s.generation ? fmt::format(" (generation {})", *s.generation) : ""));
    for (const auto& pc : s.packages)
        w.detail(package_line(pc));
    if (s.paths_to_send > 0)
        w.detail(fmt::format("send {} of {} paths, {}", s.paths_to_send, s.paths_total,
                             ui::human_bytes(s.bytes_to_send)));
    else
        w.detail("nothing to send");
    w.detail("activation: " + to_string(s.activation));
}

void account_lines(Writer& w, const std::vector<AccountPlan>& accounts) {
    for (const auto& a : accounts)
        if (a.action != Action::None)
            w.item(a.action, with_reasons(a.kind + " " + a.name +
                                              (a.machine.empty() ? "" : " on " + a.machine),
                                          a.reasons));
}

void machine_lines(Writer& w, const MachinePlan& m) {
    if (!m.changes() && m.errors.empty()) {
        w.heading("machine " + m.name + ": no changes");
        return;
    }
    w.heading("machine " + m.name);
    provision_lines(w, m.provision);
    system_lines(w, m.system);
    for (const auto& s : m.secrets)
        if (s.action != Action::None)
            w.item(s.action, with_reasons("secret " + s.name +
                                              (s.origin.empty() ? "" : " (" + s.origin + ")"),
                                          s.reasons));
    account_lines(w, m.accounts);
    for (const auto& e : m.errors)
        w.error("  ", e);
}

void storage_lines(Writer& w, const StoragePlan& s) {
    bool any = !s.undeclared.empty();
    for (const auto& i : s.items)
        any = any || i.action != Action::None;
    if (!any)
        return;
    w.heading("storage");
    for (const auto& i : s.items) {
        if (i.action == Action::None)
            continue;
        w.item(i.action, fmt::format("{} {}.{}", i.kind, i.storage, i.name));
        for (const auto& c : i.changes)
            w.detail(field_change(c));
    }
    for (const auto& u : s.undeclared)
        w.text("  note: not declared, kept: " + u + "\n");
}

void fleet_lines(Writer& w, const Plan& p) {
    storage_lines(w, p.storage);
    bool directory = false;
    for (const auto& a : p.directory)
        directory = directory || a.action != Action::None;
    if (directory) {
        w.heading("directory");
        account_lines(w, p.directory);
    }
    if (!p.destroyed.empty()) {
        w.heading("machines no longer in the deployment");
        for (const auto& name : p.destroyed)
            w.item(Action::Destroy, name + ": provisioned by fedi, would be destroyed");
    }
    for (const auto& e : p.errors)
        w.error("", e);
}

std::string count(std::size_t n, const std::string& one, const std::string& many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

} // namespace

std::string marker(Action a) {
    switch (a) {
    case Action::Create:
        return "+";
    case Action::Update:
        return "~";
    case Action::Replace:
        return "±";
    case Action::Destroy:
        return "-";
    case Action::None:
        break;
    }
    return "";
}

std::string summary_line(const Plan& p) {
    std::size_t machines = 0, errors = p.errors.size();
    std::map<Action, std::size_t> vms;
    std::uint64_t bytes = 0;
    for (const auto& m : p.machines) {
        machines += m.changes() ? 1 : 0;
        errors += m.errors.size();
        vms[m.provision.action]++;
        bytes += m.system.bytes_to_send;
    }
    std::size_t storage = 0, directory = 0;
    for (const auto& i : p.storage.items)
        storage += i.action != Action::None ? 1 : 0;
    for (const auto& a : p.directory)
        directory += a.action != Action::None ? 1 : 0;
    std::vector<std::string> parts;
    auto add = [&parts](std::size_t n, const std::string& one, const std::string& many) {
        if (n > 0)
            parts.push_back(count(n, one, many));
    };
    add(machines, "machine changes", "machines change");
    add(vms[Action::Create], "VM created", "VMs created");
    add(vms[Action::Update], "VM changed in place", "VMs changed in place");
    add(vms[Action::Replace], "VM cannot change in place", "VMs cannot change in place");
    add(p.destroyed.size(), "VM destroyed", "VMs destroyed");
    add(storage, "storage change", "storage changes");
    add(directory, "directory entry", "directory entries");
    if (bytes > 0)
        parts.push_back(ui::human_bytes(bytes) + " to send");
    auto line = parts.empty() ? std::string("No changes.") : join(parts, ", ");
    if (errors > 0) {
        line += parts.empty() ? " " : "; ";
        line += count(errors, "error", "errors");
        line += ": the plan is incomplete";
    }
    return line;
}

std::string render_plan(const Plan& p, bool color) {
    Writer w(color);
    for (const auto& m : p.machines)
        machine_lines(w, m);
    fleet_lines(w, p);
    // Appended piece by piece: GCC 12's -Wrestrict misfires on "literal" + std::string&&.
    std::string summary = "\n";
    summary += w.paint("1", summary_line(p));
    summary += "\n";
    w.text(summary);
    return w.str();
}

} // namespace fedi::plan
