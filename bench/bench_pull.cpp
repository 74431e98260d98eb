// bench/pull.sh's tool (#20): 10,000 pulling hosts against `shipshape serve`. Plain main.
//
//   bench_pull seed STORE N TOKENS_FILE FACTS_FILE
//       users host-00001..host-N (role host) with one token each, through app::UserService (the
//       server's own hashing), one "name token" line each into TOKENS_FILE; and one report per
//       host with the facts (app::record_pull_report), so that the store holds every host's
//       latest facts, as it does after the fleet's first cycle
//   bench_pull send URL TOKENS_FILE FACTS_FILE MODE VALUE SECONDS
//       MODE closed: VALUE senders, each posting its next report as soon as the last answered
//       MODE open:   VALUE reports/s, sent at fixed times whatever the answers (open loop; the
//                    latency counts from the time a report was due, so a slow server's queue
//                    shows); up to 256 in flight
//     Prints one line: mode, value, sent, errors (status other than 201/200, or no answer),
//     reports/s, p50, p99, max (ms).
//
// Reports are realistic: the facts document of this machine (FACTS_FILE, from `shipshape
// --json facts`), a drift summary, an apply result; every report a new run id, hosts in turn,
// the commit changes every 500 reports, and about 1 in 50 reports carries changed facts. Only
// 127.0.0.1 is contacted: URL must be http://127.0.0.1:PORT.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/pull_reports.hpp"
#include "app/users.hpp"
#include "store/store.hpp"

namespace {

using namespace shipshape;
using Clock = std::chrono::steady_clock;

struct Host {
    std::string name;
    std::string token;
};

std::string hex(uint64_t v, int digits);
std::string read_facts(const std::string& file);

int seed(const std::string& location, int n, const std::string& tokens_file,
         const std::string& facts_file) {
    const std::string facts = read_facts(facts_file);
    auto store = store::open_store(location);
    if (!store) {
        std::fprintf(stderr, "bench_pull: %s\n", store.error().message().c_str());
        return 1;
    }
    app::UserService users(**store);
    std::ofstream out(tokens_file);
    char name[32];
    for (int i = 1; i <= n; ++i) {
        std::snprintf(name, sizeof name, "host-%05d", i);
        if (auto st = users.add_user(name, {"host"}); !st) {
            std::fprintf(stderr, "bench_pull: %s\n", st.error().message().c_str());
            return 1;
        }
        auto token = users.issue_token(name);
        if (!token) {
            std::fprintf(stderr, "bench_pull: %s\n", token.error().message().c_str());
            return 1;
        }
        out << name << ' ' << *token << '\n';
        app::PullReport r;
        r.host = name;
        r.run = hex(static_cast<uint64_t>(i), 16);
        r.commit = std::string(40, 'f');
        r.applied_commit = r.commit;
        r.branch = "main";
        r.result = "converged";
        r.facts = facts;
        if (auto got = app::record_pull_report(**store, r, 1); !got) {
            std::fprintf(stderr, "bench_pull: %s\n", got.error().message().c_str());
            return 1;
        }
    }
    return 0;
}

std::string read_facts(const std::string& file) {
    std::stringstream facts;
    facts << std::ifstream(file).rdbuf();
    std::string f = facts.str();
    while (!f.empty() && (f.back() == '\n' || f.back() == ' ')) {
        f.pop_back();
    }
    return f;
}

std::string hex(uint64_t v, int digits) {
    static const char* k = "0123456789abcdef";
    std::string s(static_cast<size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i) {
        s[static_cast<size_t>(i)] = k[v & 15];
        v >>= 4;
    }
    return s;
}

// The body of report number `i` (of host i % hosts).
class Reports {
  public:
    Reports(std::vector<Host> hosts, std::string facts)
        : m_hosts(std::move(hosts)), m_facts(std::move(facts)) {}
    size_t hosts() const { return m_hosts.size(); }
    const Host& host(uint64_t i) const { return m_hosts[i % m_hosts.size()]; }
    std::string body(uint64_t i, std::mt19937_64& rng) const {
        app::PullReport r;
        r.host = host(i).name;
        r.run = hex(rng(), 16);
        r.commit = hex(0x3b1f2c4d5e6f7081ULL + i / 500, 16) + std::string(24, 'a');
        r.applied_commit = r.commit;
        r.branch = "main";
        r.started_at = 1796601600000 + static_cast<int64_t>(i);
        r.finished_at = r.started_at + 412;
        const bool drifted = rng() % 10 == 0;
        r.result = drifted ? "failed" : "converged";
        r.exit_code = drifted ? 1 : 0;
        r.error = drifted ? "drift remains: 2 resources differ" : "";
        r.apply = {24, drifted ? 2 : 0, 0};
        if (drifted) {
            r.drifted = 2;
            r.drift = {"file:/etc/nginx/nginx.conf", "service:nginx"};
        }
        // About 1 in 50 reports carries changed facts (an uptime, a package version moved).
        std::string facts = m_facts;
        if (rng() % 50 == 0) {
            facts.insert(facts.size() - 1, ",\"bench_changed\":" + std::to_string(rng() % 1000000));
        }
        r.facts = facts;
        return app::to_json(r);
    }

  private:
    std::vector<Host> m_hosts;
    std::string m_facts;
};

struct Outcome {
    std::mutex mu;
    std::vector<double> latencies_ms;
    uint64_t errors = 0;
    std::string first_error;
    void add(double ms, int status, const std::string& why) {
        std::lock_guard lock(mu);
        latencies_ms.push_back(ms);
        if (status != 201 && status != 200) {
            if (errors++ == 0) {
                first_error = std::to_string(status) + " " + why.substr(0, 200);
            }
        }
    }
};

// Posts `body`; returns the status (0: no answer) and the body or the error.
std::pair<int, std::string> post(httplib::Client& client, const Host& h, const std::string& body) {
    httplib::Headers headers = {{"Authorization", "Bearer " + h.token}};
    auto res =
        client.Post("/api/v1/hosts/" + h.name + "/reports", headers, body, "application/json");
    if (!res) {
        return {0, httplib::to_string(res.error())};
    }
    return {res->status, res->body};
}

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

int send(const std::string& url, const std::string& tokens_file, const std::string& facts_file,
         const std::string& mode, double value, double seconds) {
    const std::string prefix = "http://127.0.0.1:";
    if (url.rfind(prefix, 0) != 0) {
        std::fprintf(stderr, "bench_pull: only http://127.0.0.1:PORT is contacted, not %s\n",
                     url.c_str());
        return 2;
    }
    const int port = std::stoi(url.substr(prefix.size()));
    std::vector<Host> hosts;
    {
        std::ifstream in(tokens_file);
        Host h;
        while (in >> h.name >> h.token) {
            hosts.push_back(h);
        }
    }
    std::string f = read_facts(facts_file);
    if (hosts.empty() || f.empty() || f.back() != '}') {
        std::fprintf(stderr, "bench_pull: no tokens in %s or no facts object in %s\n",
                     tokens_file.c_str(), facts_file.c_str());
        return 2;
    }
    Reports reports(std::move(hosts), f);
    Outcome outcome;
    std::atomic<uint64_t> next{0};
    const auto start = Clock::now();
    const auto end =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    auto make_client = [port] {
        auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
        c->set_keep_alive(true);
        c->set_tcp_nodelay(true);  // else the body waits for the ACK of the headers (40 ms)
        c->set_connection_timeout(10, 0);
        c->set_read_timeout(30, 0);
        return c;
    };
    std::vector<std::thread> threads;
    if (mode == "closed") {
        const int senders = static_cast<int>(value);
        for (int s = 0; s < senders; ++s) {
            threads.emplace_back([&, s] {
                std::mt19937_64 rng(static_cast<uint64_t>(s) * 7919 + 1);
                auto client = make_client();
                while (Clock::now() < end) {
                    const uint64_t i = next++;
                    const std::string body = reports.body(i, rng);
                    const auto t = Clock::now();
                    auto [status, why] = post(*client, reports.host(i), body);
                    outcome.add(ms_since(t), status, why);
                }
            });
        }
    } else {
        // Open loop: report i is due at start + i / rate; a pool of workers sends each when due.
        const double rate = value;
        const uint64_t total = static_cast<uint64_t>(rate * seconds);
        const int workers = 256;
        for (int w = 0; w < workers; ++w) {
            threads.emplace_back([&, w] {
                std::mt19937_64 rng(static_cast<uint64_t>(w) * 104729 + 7);
                std::unique_ptr<httplib::Client> client;
                for (;;) {
                    const uint64_t i = next++;
                    if (i >= total) {
                        return;
                    }
                    const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(i / rate));
                    const std::string body = reports.body(i, rng);
                    std::this_thread::sleep_until(due);
                    if (!client) {
                        client = make_client();
                    }
                    auto [status, why] = post(*client, reports.host(i), body);
                    outcome.add(ms_since(due), status, why);
                }
            });
        }
    }
    for (auto& t : threads) {
        t.join();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    auto& l = outcome.latencies_ms;
    std::sort(l.begin(), l.end());
    auto pct = [&l](double p) {
        return l.empty() ? 0.0 : l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))];
    };
    std::printf("%s %g sent=%zu errors=%llu rate=%.1f/s p50=%.1fms p99=%.1fms max=%.1fms%s%s\n",
                mode.c_str(), value, l.size(), static_cast<unsigned long long>(outcome.errors),
                static_cast<double>(l.size()) / elapsed, pct(0.50), pct(0.99),
                l.empty() ? 0.0 : l.back(), outcome.errors ? " first_error=" : "",
                outcome.first_error.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> a(argv + 1, argv + argc);
    if (a.size() == 5 && a[0] == "seed") {
        return seed(a[1], std::stoi(a[2]), a[3], a[4]);
    }
    if (a.size() == 7 && a[0] == "send") {
        return send(a[1], a[2], a[3], a[4], std::stod(a[5]), std::stod(a[6]));
    }
    std::fprintf(stderr,
                 "usage: bench_pull seed STORE N TOKENS_FILE FACTS_FILE\n"
                 "       bench_pull send URL TOKENS_FILE FACTS_FILE closed|open N|RATE SECONDS\n");
    return 2;
}
