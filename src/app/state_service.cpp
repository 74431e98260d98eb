#include "app/state_service.hpp"

#include <nlohmann/json.hpp>

#include "app/facts_service.hpp"
#include "app/secrets.hpp"
#include "facts/collect.hpp"
#include "facts/diff.hpp"
#include "facts/facts_json.hpp"
#include "os/fan_out.hpp"
#include "os/file_system.hpp"

namespace shipshape::app {

namespace {

using json = nlohmann::json;

void flatten(const json& node, const std::string& prefix, Variables& out) {
    if (node.is_object()) {
        for (const auto& [k, v] : node.items()) {
            flatten(v, prefix + "." + k, out);
        }
    } else if (node.is_string()) {
        // An empty fact is an unknown one: a template naming it must fail, not render "".
        if (!node.get_ref<const std::string&>().empty()) {
            out[prefix] = node.get<std::string>();
        }
    } else if (node.is_number_integer()) {
        out[prefix] = std::to_string(node.get<int64_t>());
    } else if (node.is_number() || node.is_boolean()) {
        out[prefix] = node.dump();
    }
    // Arrays (packages, mounts, sockets) have no stable names to address: not variables.
}

std::string remote_message(const SelectedHost& host) {
    return "host " + host.name + " (" + host.address +
           ") is remote: its plan comes from its agent (StateService::run_remote)";
}

}  // namespace

Variables facts_variables(const std::string& facts_json) {
    Variables out;
    auto doc = json::parse(facts_json, nullptr, false);
    if (!doc.is_discarded()) {
        for (const auto& [k, v] : doc.items()) {
            if (k != "schema") {
                flatten(v, "facts." + k, out);
            }
        }
    }
    return out;
}

Status parse_as_host(const std::string& text, StateRequest& request) {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return fail(Errc::invalid_argument, "--as-host: expected a JSON object");
    }
    SelectedHost self;
    self.name = j.value("name", "localhost");
    self.address = j.value("address", self.name);
    self.env = j.value("env", "");
    self.tags = j.value("tags", std::map<std::string, std::string>{});
    self.local = true;
    request.self = std::move(self);
    request.self_roles = j.value("roles", std::vector<std::string>{});
    return {};
}

StateService::StateService(const Project& project, store::Store* store, os::ProcessRunner* runner,
                           const os::CancelSource* cancel, const Clock& clock)
    : m_project(project),
      m_store(store),
      m_runner(runner),
      m_cancel(cancel),
      m_clock(clock),
      m_cache(project.state_dir() + "/cache/hashes"),
      m_redactor(secret_values(project)) {}

std::vector<std::string> state_files_of(const Project& project,
                                        const std::vector<std::string>& roles) {
    std::vector<std::string> files;
    for (const auto& role : roles) {
        auto it = project.config.roles.find(role);
        if (it != project.config.roles.end()) {
            files.insert(files.end(), it->second.begin(), it->second.end());
        }
    }
    return files;
}

Result<std::vector<HostTarget>> StateService::targets(const StateRequest& request) const {
    if (request.self) {
        return std::vector<HostTarget>{
            HostTarget{*request.self, request.self_roles, request.state_files}};
    }
    std::vector<SelectedHost> hosts;
    if (request.patterns.empty()) {
        for (auto& h : all_hosts(m_project.inventory)) {
            if (h.local &&
                (!request.state_files.empty() || !m_project.inventory.roles_of(h.name).empty())) {
                hosts.push_back(std::move(h));
            }
        }
        if (hosts.empty()) {
            if (request.state_files.empty()) {
                return fail(Errc::invalid_argument,
                            "no host of inventory.toml is this machine with a role: name hosts, "
                            "give this machine a role (a [group.X] with roles = [...]), or pass "
                            "--state FILE");
            }
            SelectedHost self;
            self.name = "localhost";
            self.address = "127.0.0.1";
            self.local = true;
            hosts.push_back(std::move(self));
        }
    } else {
        auto selected = select_hosts(m_project.inventory, request.patterns);
        if (!selected) {
            return fail(selected.error());
        }
        hosts = std::move(*selected);
    }
    std::vector<HostTarget> out;
    for (auto& h : hosts) {
        HostTarget t;
        t.roles = m_project.inventory.roles_of(h.name);
        t.state_files =
            request.state_files.empty() ? state_files_of(m_project, t.roles) : request.state_files;
        if (t.state_files.empty()) {
            return fail(Errc::invalid_argument,
                        "host " + h.name +
                            " has no roles: add it to a [group.X] with roles = [...] in "
                            "inventory.toml, or pass --state FILE");
        }
        t.host = std::move(h);
        out.push_back(std::move(t));
    }
    return out;
}

Result<state::DesiredState> StateService::load(const HostTarget& target,
                                               const StateRequest& request) const {
    std::string root = request.root;
    state::LoadOptions lo;
    lo.repo_root = m_project.root;
    lo.vars = request.params;
    lo.vars["host"] = target.host.name;
    lo.vars["host.address"] = target.host.address;
    lo.vars["env"] = target.host.env;
    for (const auto& [k, v] : target.host.tags) {
        lo.vars["host.tags." + k] = v;
    }
    lo.facts = [root]() -> Result<Variables> {
        facts::GatherOptions go;
        go.root = root;
        go.sections = {"os", "cpu", "memory", "limits"};
        return facts_variables(facts::to_json(facts::gather_facts(go), go.sections, -1));
    };
    lo.accounts = state::read_accounts(state::real_path(root, "/etc/passwd"),
                                       state::real_path(root, "/etc/group"));
    lo.accounts.nss = root == "/";
    lo.runner = m_runner;
    return state::load_state(target.state_files, lo);
}

HostPlan StateService::plan(const HostTarget& target, const StateRequest& request) {
    HostPlan hp;
    hp.target = target;
    if (!target.host.local && !request.self) {
        hp.error = Error(Errc::unsupported, remote_message(target.host));
        return hp;
    }
    auto desired = load(target, request);
    if (!desired) {
        hp.error = desired.error();
        return hp;
    }
    state::PlanOptions po;
    po.root = request.root;
    po.source_root = m_project.root;
    po.diffs = request.diffs;
    po.strict = request.strict;
    po.cache = &m_cache;
    po.runner = m_runner;
    po.cancel = m_cancel;
    auto plan = state::make_plan(desired->resources, po);
    if (!plan) {
        hp.error = plan.error();
        return hp;
    }
    hp.state = std::move(*desired);
    hp.plan = std::move(*plan);
    return hp;
}

state::ApplyReport StateService::apply(
    HostPlan& plan, const StateRequest& request, state::SyncMode sync,
    const std::function<void(const state::Change&, bool, const std::string&)>& on_done) {
    state::ApplyOptions ao;
    ao.root = request.root;
    ao.repo_root = m_project.root;
    ao.sync = sync;
    ao.cache = &m_cache;
    ao.runner = m_runner;
    ao.cancel = m_cancel;
    ao.on_done = on_done;
    auto report = state::apply_plan(*plan.plan, plan.state->resources, ao);
    save_cache();
    return report;
}

void StateService::save_cache() {
    (void)m_cache.save();  // a lost cache only costs a rehash next time
}

std::string StateService::report_document(const HostPlan& plan, const StateRequest& request) const {
    // Facts describe the running system; under --root they would describe nothing.
    facts::GatherOptions go;
    go.sections = {"os", "packages"};
    auto facts = facts::gather_facts(go);
    static const std::vector<state::Resource> k_none;
    static const std::vector<std::string> k_no_files;
    auto hs = state::describe_host(plan.target.host.name, plan.target.host.env, plan.target.roles,
                                   plan.state ? plan.state->state_files : k_no_files,
                                   plan.state ? plan.state->resources : k_none, request.root,
                                   request.root == "/" ? &facts : nullptr);
    if (plan.plan) {
        hs.drift = plan.plan->changes.size() + plan.plan->unmanaged.size();
    }
    return m_redactor.apply(state::host_state_to_json(hs));
}

void StateService::save_report(const HostPlan& plan, const StateRequest& request) {
    if (!m_store || !plan.state) {
        return;
    }
    std::string doc = report_document(plan, request);
    store::FactsSnapshot snap{0, plan.target.host.name, now_ms(), content_hash(doc), doc};
    (void)m_store->save_host_state(snap);
}

std::vector<std::string> StateService::remote_args(
    const HostTarget& target, const std::string& mode, const StateRequest& request,
    const Variables& params, const std::vector<std::string>& extra, bool json) const {
    std::vector<std::string> args;
    if (json) {
        args.emplace_back("--json");
    }
    args.push_back(mode);
    for (const auto& f : target.state_files) {
        args.insert(args.end(), {"--state", f});
    }
    for (const auto& [k, v] : params) {
        args.insert(args.end(), {"--set", k + "=" + v});
    }
    if (mode != "apply" && !request.diffs) {
        args.emplace_back("--no-diff");  // apply shows no diffs and takes no --no-diff
    }
    if (request.all) {
        args.emplace_back("--all");
    }
    if (request.strict && mode == "drift") {
        args.emplace_back("--strict");
    }
    if (mode == "apply") {
        args.insert(args.end(), {"--sync", request.sync});
    }
    if (request.root != "/") {
        args.insert(args.end(), {"--root", request.root});  // absolute: see run()
    }
    args.insert(args.end(), extra.begin(), extra.end());
    nlohmann::json self = {{"name", target.host.name},
                           {"address", target.host.address},
                           {"env", target.host.env},
                           {"tags", target.host.tags},
                           {"roles", target.roles}};
    args.insert(args.end(), {"--as-host", self.dump()});
    return args;
}

Result<RemoteResult> StateService::run_remote(const HostTarget& target, const std::string& mode,
                                              const StateRequest& request,
                                              const std::vector<std::string>& extra,
                                              bool json) const {
    if (!m_fleet) {
        return fail(Errc::unsupported, "host " + target.host.name + " (" + target.host.address +
                                           ") is remote and no ssh transport is set up");
    }
    auto args = remote_args(target, mode, request, request.params, extra, json);
    auto r = m_fleet->shipshape(target.host, args);
    if (!r) {
        return fail(r.error());
    }
    return RemoteResult{r->code, std::move(r->out), std::move(r->err)};
}

Result<state::HostState> StateService::host_state(const SelectedHost& host,
                                                  const Variables& params) {
    if (host.local) {
        StateRequest req;
        req.params = params;
        HostTarget t{host, m_project.inventory.roles_of(host.name), {}};
        t.state_files = state_files_of(m_project, t.roles);
        std::vector<state::Resource> resources;
        std::vector<std::string> loaded;
        if (!t.state_files.empty()) {
            auto desired = load(t, req);
            if (!desired) {
                return fail(desired.error().context("host " + host.name));
            }
            resources = std::move(desired->resources);
            loaded = std::move(desired->state_files);
        }
        facts::GatherOptions go;
        go.sections = {"os", "packages"};
        auto facts = facts::gather_facts(go);
        return state::describe_host(host.name, host.env, t.roles, loaded, resources, "/", &facts);
    }
    return stored_host_state(host);
}

Result<state::HostState> StateService::agent_host_state(const SelectedHost& host,
                                                        const Variables& params) const {
    {
        HostTarget t{host, m_project.inventory.roles_of(host.name), {}};
        for (const auto& role : t.roles) {
            auto it = m_project.config.roles.find(role);
            if (it != m_project.config.roles.end()) {
                t.state_files.insert(t.state_files.end(), it->second.begin(), it->second.end());
            }
        }
        StateRequest req;
        req.params = params;
        auto r = run_remote(t, "drift", req, {"--host-report"}, false);
        if (!r) {
            return fail(r.error().context("host " + host.name));
        }
        if (r->code != 0) {
            return fail(Errc::io,
                        "host " + host.name + ": its agent could not describe it: " + r->err);
        }
        auto parsed = state::host_state_from_json(r->out);
        if (!parsed) {
            return fail(parsed.error().context("host " + host.name));
        }
        parsed->roles = t.roles;
        return parsed;
    }
}

Result<state::HostState> StateService::stored_host_state(const SelectedHost& host) const {
    state::HostState hs;
    hs.host = host.name;
    hs.env = host.env;
    hs.roles = m_project.inventory.roles_of(host.name);
    hs.has_paths = false;
    if (!m_store) {
        return hs;
    }
    auto stored = m_store->latest_host_state(host.name);
    if (!stored) {
        return fail(stored.error());
    }
    if (*stored) {
        auto parsed = state::host_state_from_json((*stored)->document);
        if (parsed) {
            hs = std::move(*parsed);
            hs.roles = m_project.inventory.roles_of(host.name);
            hs.source = "stored";
        }
    }
    if (!hs.has_facts) {
        auto snaps = m_store->list_facts(host.name, 1);
        if (snaps && !snaps->empty()) {
            auto snap = m_store->get_facts(snaps->front().id);
            if (snap) {
                if (auto f = facts::from_json(snap->document)) {
                    hs.has_facts = true;
                    hs.kernel = f->os.kernel;
                    hs.os = facts::os_label(f->os);
                    for (const auto& p : f->packages) {
                        if (p.status == "installed") {
                            hs.packages[p.name] = p.version;
                        }
                    }
                }
            }
        }
    }
    return hs;
}

Result<state::EnvComparison> StateService::compare_envs(const std::string& left,
                                                        const std::string& right,
                                                        const Variables& params) {
    std::vector<state::HostState> sides[2];
    const std::string names[2] = {left, right};
    std::vector<std::pair<int, SelectedHost>> all;
    for (int i = 0; i < 2; ++i) {
        auto hosts = select_hosts(m_project.inventory, {"env:" + names[i]});
        if (!hosts) {
            return fail(hosts.error());
        }
        for (auto& h : *hosts) {
            all.emplace_back(i, std::move(h));
        }
    }
    // Remote hosts describe themselves through their agents, all at once.
    // A host out of reach is compared from what the store has of it, and the result says so.
    // The store and this machine are read afterwards, from this thread: a Store serves one
    // thread at a time (two threads sharing its statements read each other's rows).
    std::vector<std::optional<Result<state::HostState>>> states(all.size());
    std::vector<std::string> notes(all.size());
    os::fan_out(all.size(), m_fleet ? m_fleet->forks(all.size()) : 1, [&](size_t i) {
        const auto& h = all[i].second;
        if (h.local || !m_fleet) {
            return;
        }
        states[i] = agent_host_state(h, params);
        if (!*states[i] && states[i]->error().code() == Errc::unreachable) {
            notes[i] = states[i]->error().message() + "; compared from its stored report and facts";
            states[i].reset();
        }
    });
    for (size_t i = 0; i < all.size(); ++i) {
        if (!states[i]) {
            const auto& h = all[i].second;
            states[i] = h.local ? host_state(h, params) : stored_host_state(h);
        }
    }
    for (size_t i = 0; i < all.size(); ++i) {
        if (!*states[i]) {
            return fail(states[i]->error());
        }
        sides[all[i].first].push_back(std::move(**states[i]));
    }
    auto cmp = state::compare_environments(left, sides[0], right, sides[1]);
    for (const auto& n : notes) {
        if (!n.empty()) {
            cmp.notes.push_back(n);
        }
    }
    return cmp;
}

}  // namespace shipshape::app
