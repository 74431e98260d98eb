#include "app/lab.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "app/image_run.hpp"
#include "core/text.hpp"
#include "image/image.hpp"
#include "os/container.hpp"
#include "os/file_system.hpp"
#include "state/hash.hpp"

namespace shipshape::app {

namespace {

namespace fs = std::filesystem;

constexpr int k_max_hosts = 250;
constexpr int k_ready_timeout_ms = 60000;
constexpr const char* k_netns_dir = "/run/netns/";
constexpr const char* k_inside = "/run/shipshape-lab";  // the ssh directory, inside each host

bool exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "\"";
}

bool running(const LabHost& h) {
    if (h.pid <= 0 || !exists(k_netns_dir + h.netns) || !exists("/sys/class/net/" + h.veth)) {
        return false;
    }
    auto ticks = os::process_start_ticks(h.pid);
    return ticks && *ticks == h.start_ticks;
}

// Whether the image's root has an executable at `path` (relative, no leading '/'): the first
// lower dir holding an entry for it decides (a whiteout is a character device).
bool image_has(const std::vector<std::string>& lowers, const std::string& path) {
    for (const auto& d : lowers) {
        struct stat st {};
        if (::lstat((d + "/" + path).c_str(), &st) == 0) {
            return !S_ISCHR(st.st_mode);
        }
    }
    return false;
}

}  // namespace

std::string lab_id(const std::string& root) {
    return state::sha256_hex(root).substr(0, 6);
}

std::string default_lab_subnet(const std::string& id) {
    const unsigned long v = std::stoul(id, nullptr, 16);
    return "10." + std::to_string(200 + (v >> 8) % 50) + "." + std::to_string(v & 0xff) + ".0/24";
}

Result<std::string> lab_subnet_prefix(const std::string& subnet) {
    unsigned a = 0;
    unsigned b = 0;
    unsigned c = 0;
    unsigned d = 0;
    int used = 0;
    if (std::sscanf(subnet.c_str(), "%u.%u.%u.%u/24%n", &a, &b, &c, &d, &used) != 4 ||
        used != static_cast<int>(subnet.size()) || a > 255 || b > 255 || c > 255 || d != 0) {
        return fail(Errc::invalid_definition,
                    "shipshape.toml [lab] subnet must be an IPv4 /24 like \"10.77.3.0/24\", "
                    "found \"" +
                        subnet + "\"");
    }
    return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c) + ".";
}

LabState LabService::fresh_state(const std::string& env) const {
    LabState s;
    s.id = lab_id(m_project.root);
    s.env = env;
    s.subnet = m_project.config.lab_subnet.empty() ? default_lab_subnet(s.id)
                                                   : m_project.config.lab_subnet;
    s.bridge = "sslab" + s.id;
    return s;
}

Status LabService::ip(const std::vector<std::string>& args, const std::string& batch) {
    os::ProcessSpec spec;
    spec.argv = {"ip"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    if (!batch.empty()) {
        spec.argv.insert(spec.argv.end(), {"-batch", "-"});
        spec.input = os::Input::text;
        spec.input_text = batch;
    }
    os::CollectSink sink;
    auto r = m_runner.run(spec, sink, nullptr);
    if (!r) {
        return fail(r.error().context("running ip (iproute2)"));
    }
    if (!r->success()) {
        std::string line = "ip";
        for (const auto& a : args) {
            line += " " + a;
        }
        return fail(Errc::io, line + (batch.empty() ? "" : " <<< " + batch) + ": " +
                                  std::string(trim(sink.out)));
    }
    return {};
}

Status LabService::save(const LabState& s) const {
    return os::write_whole_file_atomic(lab_dir() + "/lab.json", lab_state_json(s));
}

Status LabService::ensure_keys() {
    const std::string dir = lab_dir() + "/ssh";
    if (auto ok = os::make_local_file_system()->create_directories(dir); !ok) {
        return ok;
    }
    for (const char* key : {"host_key", "client_key"}) {
        const std::string path = dir + "/" + key;
        if (exists(path) && exists(path + ".pub")) {
            continue;
        }
        std::error_code ec;
        fs::remove(path, ec);
        fs::remove(path + ".pub", ec);
        os::ProcessSpec spec;
        spec.argv = {"ssh-keygen",    "-q", "-N", "", "-t", "ed25519", "-C",
                     "shipshape-lab", "-f", path};
        os::CollectSink sink;
        auto r = m_runner.run(spec, sink, nullptr);
        if (!r) {
            return fail(r.error().context("generating the lab's ssh keys"));
        }
        if (!r->success()) {
            return fail(Errc::io, "ssh-keygen failed: " + std::string(trim(sink.out)));
        }
    }
    return {};
}

Status LabService::write_files(const LabState& s) const {
    const std::string dir = lab_dir() + "/ssh";
    auto pub = [&](const char* key) -> Result<std::string> {
        auto text = os::read_whole_file(dir + "/" + key + ".pub");
        if (!text) {
            return fail(text.error());
        }
        // "TYPE BASE64 COMMENT": the first two words.
        const auto second = text->find(' ', text->find(' ') + 1);
        if (text->find(' ') == std::string::npos) {
            return fail(Errc::io, dir + "/" + key + ".pub is malformed");
        }
        return std::string(trim(text->substr(0, second)));
    };
    auto host_key = pub("host_key");
    auto client_key = pub("client_key");
    if (!host_key || !client_key) {
        return fail(host_key ? client_key.error() : host_key.error());
    }
    os::WriteOptions secret;
    secret.mode = 0600;
    Status ok = os::write_whole_file_atomic(dir + "/authorized_keys", *client_key + "\n", secret);
    std::string known;
    std::string addresses;
    for (const auto& h : s.hosts) {
        known += h.address + " " + *host_key + "\n";
        addresses += " " + h.address;
    }
    if (ok) {
        ok = os::write_whole_file_atomic(dir + "/known_hosts", known);
    }
    if (ok) {
        ok = os::write_whole_file_atomic(
            dir + "/sshd_config",
            std::string("# Written by `shipshape lab up`.\nHostKey ") + k_inside +
                "/host_key\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
                "AuthorizedKeysFile " +
                k_inside +
                "/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "UsePAM no\nStrictModes no\nMaxSessions 200\nMaxStartups 500\nUseDNS no\n"
                "LogLevel ERROR\nSubsystem sftp internal-sftp\n");
    }
    // The user's own ssh settings still apply to every other host: the main inventory's
    // [ssh] config, else ~/.ssh/config (missing files are ignored by Include).
    std::string include = "~/.ssh/config";
    if (auto main = os::read_whole_file(m_project.root + "/inventory.toml")) {
        if (auto inv = parse_inventory(*main, "inventory.toml"); inv && !inv->ssh.config.empty()) {
            include = os::path_absolute(inv->ssh.config, m_project.root);
        }
    }
    if (ok && !s.hosts.empty()) {
        ok = os::write_whole_file_atomic(
            dir + "/ssh_config",
            "# Written by `shipshape lab up`: the lab's hosts, then everything else as before.\n"
            "Host" +
                addresses + "\n    User root\n    IdentityFile " + dir +
                "/client_key\n    IdentitiesOnly yes\n    UserKnownHostsFile " + dir +
                "/known_hosts\n    GlobalKnownHostsFile /dev/null\n"
                "    StrictHostKeyChecking yes\n    BatchMode yes\n    LogLevel ERROR\n"
                "Host *\n    Include " +
                include + "\n");
    }
    if (!ok) {
        return ok;
    }
    std::string inv =
        "# Written by `shipshape lab up`, removed by `shipshape lab down`: do not edit.\n"
        "# The lab: " +
        std::to_string(s.hosts.size()) + " hosts of image " +
        (s.image_name.empty() ? s.image.substr(0, 12) : s.image_name) + " (" +
        s.image.substr(0, 12) + ") on bridge " + s.bridge + ", " + s.subnet +
        ".\n\n[ssh]\nconfig = " + quoted(".shipshape/lab/ssh/ssh_config") + "\n\n[env." + s.env +
        "]\nhosts = [";
    for (size_t i = 0; i < s.hosts.size(); ++i) {
        inv += (i ? ", " : "") + quoted(s.hosts[i].name);
    }
    inv += "]\n";
    for (const auto& h : s.hosts) {
        inv += "\n[host." + h.name + "]\naddress = " + quoted(h.address) + "\nuser = \"root\"\n";
    }
    return os::write_whole_file_atomic(m_project.root + "/" + k_lab_inventory, inv);
}

void LabService::remove_host(const LabHost& h) {
    if (h.pid > 0) {
        auto ticks = os::process_start_ticks(h.pid);
        if (ticks && *ticks == h.start_ticks) {
            ::kill(h.pid, SIGKILL);
        }
    }
    const std::string ns = k_netns_dir + h.netns;
    for (int round = 0; round < 500; ++round) {
        auto pids = os::pids_in_network_namespace(ns);
        if (pids.empty()) {
            break;
        }
        for (pid_t p : pids) {
            ::kill(p, SIGKILL);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (exists("/sys/class/net/" + h.veth)) {
        (void)ip({"link", "del", h.veth});
    }
    if (exists(ns)) {
        (void)ip({"netns", "del", h.netns});
    }
}

Status LabService::create_host(const LabState& s, LabHost& h,
                               const std::vector<std::string>& lower_dirs) {
    const std::string dir = lab_dir() + "/" + h.name;
    auto files = os::make_local_file_system();
    for (const char* sub : {"/upper", "/work"}) {
        if (auto ok = files->create_directories(dir + sub); !ok) {
            return ok;
        }
    }
    if (auto ok = ip({}, "netns add " + h.netns + "\nlink add " + h.veth +
                             " type veth peer name eth0 netns " + h.netns + "\nlink set " + h.veth +
                             " master " + s.bridge + " up\n");
        !ok) {
        return ok;
    }
    if (auto ok = ip({"-n", h.netns}, "link set lo up\naddr add " + h.address +
                                          "/24 dev eth0\nlink set eth0 up\nroute add default via " +
                                          s.gateway + "\n");
        !ok) {
        return ok;
    }
    os::ContainerSpec spec;
    spec.lower_dirs = lower_dirs;
    spec.upper_dir = dir + "/upper";
    spec.work_dir = dir + "/work";
    spec.hostname = h.name;
    spec.network = os::ContainerNetwork::named;
    spec.netns = h.netns;
    spec.binds.push_back({lab_dir() + "/ssh", k_inside, true});
    spec.argv = {"/bin/sh", "-c",
                 std::string("mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f ") + k_inside +
                     "/sshd_config"};
    spec.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
                "LANG=C.UTF-8"};
    spec.log_file = dir + "/sshd.log";
    auto pid = os::start_container(spec);
    if (!pid) {
        return fail(pid.error().context("starting " + h.name + "'s sshd"));
    }
    h.pid = *pid;
    h.start_ticks = os::process_start_ticks(*pid).value_or(0);
    return {};
}

Result<LabUpReport> LabService::up(const LabUpOptions& o) {
    if (::geteuid() != 0) {
        return fail(Errc::unsupported,
                    "lab needs root: it makes network namespaces, a bridge and mounts");
    }
    if (o.count < 1 || o.count > k_max_hosts) {
        return fail(Errc::invalid_argument, "a lab has 1 to " + std::to_string(k_max_hosts) +
                                                " hosts, not " + std::to_string(o.count));
    }
    LabState s = fresh_state(o.env);
    if (auto old = os::read_whole_file(lab_dir() + "/lab.json")) {
        auto parsed = parse_lab_state(*old);
        if (!parsed) {
            return fail(parsed.error().context(lab_dir() + "/lab.json"));
        }
        s = std::move(*parsed);
        if (s.env != o.env) {
            return fail(Errc::conflict, "the lab is up in environment '" + s.env +
                                            "': `shipshape lab down` first to change it");
        }
    }
    auto prefix = lab_subnet_prefix(s.subnet);
    if (!prefix) {
        return fail(prefix.error());
    }
    s.gateway = *prefix + "1";
    const std::string images = images_dir(m_project.root);
    const std::string ref = !o.image.empty() ? o.image : s.image;
    auto pick = [&]() -> Result<image::ImageRecord> {
        if (!ref.empty()) {
            return image::resolve_image(images, ref);
        }
        auto all = image::list_images(images);
        if (!all) {
            return fail(all.error());
        }
        if (all->empty()) {
            return fail(Errc::not_found,
                        "no image to run the lab on: build one (`shipshape image build SPEC`, "
                        "with lab = true) or pass --image");
        }
        return all->front();
    };
    auto img = pick();
    if (!img) {
        return fail(img.error());
    }
    if (!s.image.empty() && s.image != img->id) {
        return fail(Errc::conflict, "the lab runs image " + s.image.substr(0, 12) +
                                        ": `shipshape lab down` first to change it");
    }
    const auto lowers = image::lower_dirs(*img);
    if (!image_has(lowers, "usr/sbin/sshd")) {
        return fail(Errc::invalid_argument,
                    "image " + (img->name.empty() ? img->id.substr(0, 12) : img->name) +
                        " has no /usr/sbin/sshd: add openssh-server to its [packages]");
    }
    s.image = img->id;
    s.image_name = img->name;
    LabUpReport report;
    std::vector<LabHost> hosts;
    for (int i = 1; i <= o.count; ++i) {
        auto it = std::find_if(s.hosts.begin(), s.hosts.end(),
                               [i](const LabHost& h) { return h.index == i; });
        LabHost h;
        if (it != s.hosts.end()) {
            h = *it;
        } else {
            h.index = i;
            h.name = "lab" + std::to_string(i);
            h.address = *prefix + std::to_string(i + 1);
            h.netns = "sslab-" + s.id + "-" + std::to_string(i);
            h.veth = "sslab" + s.id + "v" + std::to_string(i);
        }
        hosts.push_back(h);
    }
    for (const auto& h : s.hosts) {
        if (h.index > o.count) {
            remove_host(h);
            std::error_code ec;
            fs::remove_all(lab_dir() + "/" + h.name, ec);
            report.removed.push_back(h.name);
        }
    }
    // Recorded before anything is made, so that a killed `lab up` leaves names to clean up.
    s.hosts = hosts;
    if (auto ok = save(s); !ok) {
        return fail(ok.error());
    }
    if (auto ok = ensure_keys(); !ok) {
        return fail(ok.error());
    }
    if (auto ok = write_files(s); !ok) {
        return fail(ok.error());
    }
    if (!exists("/sys/class/net/" + s.bridge)) {
        if (auto ok = ip({}, "link add " + s.bridge + " type bridge\naddr add " + s.gateway +
                                 "/24 dev " + s.bridge + "\nlink set " + s.bridge + " up\n");
            !ok) {
            return fail(ok.error());
        }
    }
    for (auto& h : s.hosts) {
        if (running(h)) {
            h.running = true;
            report.kept.push_back(h.name);
            continue;
        }
        remove_host(h);
        auto ok = create_host(s, h, lowers);
        if (auto saved = save(s); !saved && ok) {
            ok = saved;
        }
        if (!ok) {
            return fail(ok.error());
        }
        h.running = true;
        report.started.push_back(h.name);
    }
    for (const auto& h : s.hosts) {
        if (auto ok = os::wait_for_tcp(h.address, 22, k_ready_timeout_ms); !ok) {
            auto log = os::read_whole_file(lab_dir() + "/" + h.name + "/sshd.log");
            return fail(Errc::io, h.name + "'s sshd: " + ok.error().message() +
                                      (log && !log->empty() ? "; its log:\n" + *log : ""));
        }
    }
    report.state = s;
    return report;
}

Result<std::vector<std::string>> LabService::down() {
    if (::geteuid() != 0) {
        return fail(Errc::unsupported,
                    "lab needs root: it removes network namespaces, a bridge and mounts");
    }
    std::vector<std::string> removed;
    LabState s = fresh_state("lab");
    if (auto text = os::read_whole_file(lab_dir() + "/lab.json")) {
        if (auto parsed = parse_lab_state(*text)) {
            s = std::move(*parsed);
        }
    }
    // Namespaces of this lab that the state does not name (a state lost to a kill -9).
    std::error_code ec;
    for (fs::directory_iterator it(k_netns_dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const std::string mine = "sslab-" + s.id + "-";
        if (name.rfind(mine, 0) == 0 &&
            std::none_of(s.hosts.begin(), s.hosts.end(),
                         [&](const LabHost& h) { return h.netns == name; })) {
            LabHost h;
            h.netns = name;
            h.name = name;
            h.veth = "sslab" + s.id + "v" + name.substr(mine.size());
            s.hosts.push_back(h);
        }
    }
    for (const auto& h : s.hosts) {
        const bool was = exists(k_netns_dir + h.netns) || exists("/sys/class/net/" + h.veth);
        remove_host(h);
        if (was) {
            removed.push_back(h.name);
        }
    }
    if (exists("/sys/class/net/" + s.bridge)) {
        if (auto ok = ip({"link", "del", s.bridge}); !ok) {
            return fail(ok.error());
        }
        removed.push_back("bridge " + s.bridge);
    }
    const std::string inventory = m_project.root + "/" + k_lab_inventory;
    if (exists(inventory)) {
        fs::remove(inventory, ec);
        removed.push_back(k_lab_inventory);
    }
    if (exists(lab_dir())) {
        fs::remove_all(lab_dir(), ec);
        if (ec) {
            return fail(Errc::io, "removing " + lab_dir() + ": " + ec.message());
        }
        removed.push_back(".shipshape/lab");
    }
    return removed;
}

Result<LabState> LabService::status() const {
    auto text = os::read_whole_file(lab_dir() + "/lab.json");
    if (!text) {
        return fail(Errc::not_found, "no lab is up here (`shipshape lab up N` makes one)");
    }
    auto s = parse_lab_state(*text);
    if (!s) {
        return fail(s.error());
    }
    for (auto& h : s->hosts) {
        h.running = running(h);
    }
    return s;
}

}  // namespace shipshape::app
