#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "server/http.hpp"
#include "server/web.hpp"

namespace shipshape::server {

namespace {

constexpr const char* k_json = "application/json; charset=utf-8";
// Every open event stream holds a worker for its lifetime: room for all of them and the rest.
constexpr size_t k_worker_threads = 64 + k_max_event_clients;
constexpr size_t k_keep_alive_requests = 1000;

// Debian's cpp-httplib (0.11, a compiled library) listens with a backlog of 5: of 50 clients
// connecting at once, the SYNs beyond the queue are dropped and retried by the client after 1 s,
// which bench/server.sh saw as a p99 near one second. Listening again on a listening socket only
// changes its backlog (Linux), so the bound socket -- found among our descriptors by its port,
// as the library does not expose it -- gets the system's maximum.
void widen_listen_backlog(int port) {
    const int k_scan = 1024;
    for (int fd = 0; fd < k_scan; ++fd) {
        int listening = 0;
        socklen_t len = sizeof listening;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
            continue;
        }
        sockaddr_storage addr{};
        socklen_t addr_len = sizeof addr;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
            continue;
        }
        int bound = -1;
        if (addr.ss_family == AF_INET) {
            bound = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
        } else if (addr.ss_family == AF_INET6) {
            bound = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
        }
        if (bound == port) {
            (void)::listen(fd, SOMAXCONN);
        }
    }
}

Request to_request(const httplib::Request& req) {
    Request r;
    r.method = req.method;
    r.path = req.path;
    for (const auto& [name, value] : req.params) {
        r.query.emplace_back(name, value);
    }
    for (const auto& [name, value] : req.headers) {
        r.headers.emplace_back(name, value);
    }
    r.body = req.body;
    r.remote_addr = req.remote_addr;
    return r;
}

std::string reason_for(int status) {
    switch (status) {
        case 400:
            return "bad request: the HTTP request could not be parsed (a malformed request line, "
                   "or a header line over 8 KiB)";
        case 404:
            return "no such route";
        case 413:
            return "request body too large (the limit is 1 MiB)";
        case 414:
            return "request line too long";
        default:
            return "HTTP status " + std::to_string(status);
    }
}

// The dashboard (web.hpp): the page and its assets, with their own headers in place of the
// API's defaults.
void serve_page(const httplib::Request& req, httplib::Response& res) {
    WebResponse out = web_response(req.method, req.path, req.get_header_value("If-None-Match"));
    res.status = out.status;
    for (const auto& [name, value] : out.headers) {
        res.headers.erase(name);
        res.set_header(name, value);
    }
    res.set_content(out.body, out.content_type);
}

// GET /api/v1/events: a chunked text/event-stream fed by one EventStream per client. The
// worker thread serving it waits in EventStream::next (keepalive comments every k_keepalive);
// the stream ends when the hub stops (the server is stopping), when the client is dropped for
// falling behind, or when a write fails (the client went away).
void add_event_route(httplib::Server& server, const LiveEvents& events) {
    server.Get("/api/v1/events", [&events](const httplib::Request& req, httplib::Response& res) {
        std::vector<std::pair<std::string, std::string>> query(req.params.begin(),
                                                               req.params.end());
        auto parsed = parse_stream_request(query, req.get_header_value("Last-Event-ID"));
        if (!parsed) {
            res.status = 400;
            res.set_content(error_document(parsed.error().message()), k_json);
            return;
        }
        auto stream =
            std::make_shared<EventStream>(events.hub, events.backlog, parsed->after, parsed->run);
        if (!stream->ok()) {
            res.status = 503;
            res.set_header("Retry-After", "5");
            res.set_content(error_document("too many event streams are open (the limit is " +
                                           std::to_string(k_max_event_clients) + ")"),
                            k_json);
            return;
        }
        res.set_header("X-Accel-Buffering", "no");
        // Exactly "text/event-stream": cpp-httplib compresses other text/* types for clients
        // that accept gzip or brotli (every browser), and a compressor holds events back
        // until its buffer fills, so a browser's EventSource saw nothing live.
        res.set_chunked_content_provider("text/event-stream",
                                         [stream](size_t, httplib::DataSink& sink) {
                                             auto chunk = stream->next();
                                             if (!chunk) {
                                                 sink.done();
                                                 return true;
                                             }
                                             return sink.write(chunk->data(), chunk->size());
                                         });
    });
}

}  // namespace

Status serve_http(Api& api, const ListenAddress& where, const std::optional<TlsFiles>& tls,
                  const os::CancelSource& stop,
                  const std::function<void(const std::string&)>& on_listening,
                  const LiveEvents* events) {
    std::unique_ptr<httplib::Server> owned;
    if (tls) {
        auto https = std::make_unique<httplib::SSLServer>(tls->cert.c_str(), tls->key.c_str());
        if (!https->is_valid()) {
            return fail(Errc::invalid_argument, "cannot load the TLS certificate '" + tls->cert +
                                                    "' with the key '" + tls->key +
                                                    "' (PEM files, the key unencrypted)");
        }
        owned = std::move(https);
    } else {
        owned = std::make_unique<httplib::Server>();
    }
    httplib::Server& server = *owned;
    server.set_payload_max_length(k_max_body);
    // The library writes a response's headers and body separately: with Nagle's algorithm on,
    // the body then waits for the client's delayed ACK (40 ms on Linux) on every keep-alive
    // request -- bench/server.sh measured a 44 ms floor per request before this.
    server.set_tcp_nodelay(true);
    server.set_read_timeout(k_read_timeout_s, 0);
    server.set_write_timeout(k_read_timeout_s, 0);
    server.set_keep_alive_timeout(k_read_timeout_s);
    // A worker serves one connection for as long as it is kept alive: the library's default
    // pool (8 threads here) made the 9th keep-alive client wait for a whole connection. Reads
    // share one store lock anyway; the threads mostly wait on sockets.
    server.set_keep_alive_max_count(k_keep_alive_requests);
    server.new_task_queue = [] { return new httplib::ThreadPool(k_worker_threads); };
    server.set_default_headers(
        {{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}});
    // Every method reaches the Api (paths under /api/) or the dashboard's compiled table (every
    // other path), which know their routes: a known path with another method is 405 there, and
    // nothing here matches a path to a file.
    auto handler = [&api](const httplib::Request& req, httplib::Response& res) {
        if (!is_api_path(req.path)) {
            serve_page(req, res);
            return;
        }
        Response out = api.handle(to_request(req));
        res.status = out.status;
        if (!out.allow.empty()) {
            res.set_header("Allow", out.allow);
        }
        for (const auto& [name, value] : out.headers) {
            res.set_header(name, value);
        }
        res.set_content(out.body, k_json);
    };
    if (events) {
        add_event_route(server, *events);  // before the catch-all, which would answer it
    }
    server.Get(".*", handler);
    server.Post(".*", handler);
    server.Put(".*", handler);
    server.Patch(".*", handler);
    server.Delete(".*", handler);
    server.Options(".*", handler);
    // The library's own refusals (413, 414, a request it cannot parse) get a JSON body too.
    httplib::Server::HandlerWithResponse on_error = [](const httplib::Request&,
                                                       httplib::Response& res) {
        if (!res.body.empty()) {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        res.set_content(error_document(reason_for(res.status)), k_json);
        return httplib::Server::HandlerResponse::Handled;
    };
    server.set_error_handler(on_error);
    // cpp-httplib reports exceptions thrown inside a handler as 500; ours throw none, but a
    // std::bad_alloc would end here rather than in the thread pool.
    server.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
            res.status = 500;
            res.set_content(error_document("internal error"), k_json);
        });

    int port = where.port;
    errno = 0;
    if (port == 0) {
        port = server.bind_to_any_port(where.host);
    } else if (!server.bind_to_port(where.host, port)) {
        port = -1;
    }
    if (port < 0) {
        int err = errno;
        return fail(Errc::io, "cannot listen on " + where.text() + ": " +
                                  (err != 0 ? std::string(std::strerror(err))
                                            : std::string("the address is in use or not one of "
                                                          "this machine")));
    }
    widen_listen_backlog(port);
    on_listening(where.url(port, tls ? "https" : "http"));

    // Stops the server once `stop` fires (a signal); polls so it also notices that the server
    // ended by itself.
    std::atomic<bool> ended{false};
    std::thread watcher([&] {
        pollfd p{stop.fd(), POLLIN, 0};
        while (!ended.load()) {
            if (::poll(&p, 1, 200) > 0) {
                if (events) {
                    events->hub.stop();  // ends the streams, which hold worker threads
                }
                // httplib's stop() does nothing until listen_after_bind() runs, and a signal may
                // come between on_listening and then: stop again until the server has ended.
                while (!ended.load()) {
                    server.stop();
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                }
                return;
            }
        }
    });
    bool ok = server.listen_after_bind();
    ended.store(true);
    watcher.join();
    if (!ok && !stop.cancelled()) {
        return fail(Errc::io, "the server on " + where.text() + " stopped unexpectedly");
    }
    return {};
}

}  // namespace shipshape::server
