#include "store/testing/postgres_server.hpp"

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/text.hpp"
#include "os/process.hpp"

#ifndef SHIPSHAPE_PGSERVER_SCRIPT
#error "SHIPSHAPE_PGSERVER_SCRIPT names tests/e2e/pgserver.py"
#endif

namespace shipshape::store::testing {

namespace {

constexpr int k_unsupported = 77;  // pgserver.py's exit code for "no PostgreSQL here"

Result<std::string> pgserver(const std::vector<std::string>& args) {
    auto runner = os::make_process_runner();
    os::ProcessSpec spec;
    spec.argv = {"python3", SHIPSHAPE_PGSERVER_SCRIPT};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.errors = os::Stderr::separate;
    spec.timeout = Millis(120000);
    os::CollectSink sink;
    auto outcome = runner->run(spec, sink, nullptr);
    if (!outcome) {
        return fail(outcome.error());
    }
    if (outcome->kind == os::ExitKind::exited && outcome->code == k_unsupported) {
        return fail(Errc::unsupported, std::string(trim(sink.err)));
    }
    if (!outcome->success()) {
        return fail(Errc::io, "pgserver.py " + args.front() + ": " +
                                  os::describe(*outcome, spec.timeout) + ": " +
                                  std::string(trim(sink.err)));
    }
    return std::string(trim(sink.out));
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::start() {
    char tmpl[] = "/tmp/shipshape-pg-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
        return fail(Errc::io, "creating a directory for the test PostgreSQL server");
    }
    std::unique_ptr<PostgresServer> server(new PostgresServer(tmpl));
    if (auto up = pgserver({"start", server->m_dir, std::to_string(::getpid())}); !up) {
        return fail(up.error());
    }
    return server;
}

PostgresServer::~PostgresServer() {
    (void)pgserver({"stop", m_dir});
}

Result<std::string> PostgresServer::create_database(const std::string& name) {
    return pgserver({"createdb", m_dir, name});
}

}  // namespace shipshape::store::testing
