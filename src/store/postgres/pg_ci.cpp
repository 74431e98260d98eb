// The PostgreSQL store's CI queue (#19; see store/ci.hpp). Claimants on many machines take jobs
// with SELECT ... FOR UPDATE SKIP LOCKED: each locks a small batch of candidates (oldest first)
// that no other claimant holds, checks labels here and takes the first that fits, never waiting
// on another claimant. A pipeline's status is rewritten under its row's lock, taken after the
// jobs' rows (every transaction here locks jobs before pipelines, and pipelines in id order, so
// they cannot deadlock). enqueue_ci_pipeline notifies k_ci_channel in its transaction; a waiting
// worker LISTENs on its own connection.
#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/postgres/pg_db.hpp"

namespace shipshape::store::pg_detail {

namespace {

// Candidates locked per round of a claim: few, so that other claimants find the rest.
constexpr int k_claim_batch = 8;

constexpr const char* k_job_columns =
    "id, pipeline_id, name, definition, labels, status, worker, lease_until, attempts, "
    "cancel_requested, run_id, failing, detail, results, queued_at, started_at, finished_at";
constexpr const char* k_pipeline_columns =
    "SELECT id, repo, ref, commit_id, source, status, reason, created_at, updated_at "
    "FROM ci_pipelines ";

CiJob read_job(const PgResult& q, int row) {
    CiJob j;
    j.id = q.integer(row, 0);
    j.pipeline_id = q.integer(row, 1);
    j.name = q.text(row, 2);
    j.definition = q.text(row, 3);
    j.labels = split_roles(q.text(row, 4));
    j.status = q.text(row, 5);
    j.worker = q.text(row, 6);
    j.lease_until = q.integer(row, 7);
    j.attempts = static_cast<int>(q.integer(row, 8));
    j.cancel_requested = q.text(row, 9) == "t";
    j.run_id = q.text(row, 10);
    j.failing = q.text(row, 11);
    j.detail = q.text(row, 12);
    j.results = q.text(row, 13);
    j.queued_at = q.integer(row, 14);
    j.started_at = q.integer(row, 15);
    j.finished_at = q.integer(row, 16);
    return j;
}

CiPipeline read_pipeline(const PgResult& q, int row) {
    CiPipeline p;
    p.id = q.integer(row, 0);
    p.repo = q.text(row, 1);
    p.ref = q.text(row, 2);
    p.commit = q.text(row, 3);
    p.source = q.text(row, 4);
    p.status = q.text(row, 5);
    p.reason = q.text(row, 6);
    p.created_at = q.integer(row, 7);
    p.updated_at = q.integer(row, 8);
    return p;
}

std::string sql_with(const char* head, const std::string& tail) {
    return std::string(head) + k_job_columns + tail;
}

}  // namespace

Result<std::vector<CiJob>> PgStore::ci_jobs_of(const std::string& ids) {
    const std::string sql =
        sql_with("SELECT ", " FROM ci_jobs WHERE pipeline_id = ANY($1::bigint[]) ORDER BY id");
    auto q = exec("reading CI jobs", sql.c_str(), {ids});
    if (!q) {
        return fail(q.error());
    }
    std::vector<CiJob> out;
    out.reserve(static_cast<size_t>(q->rows()));
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(read_job(*q, i));
    }
    return out;
}

Status PgStore::refresh_ci_pipeline(int64_t pipeline_id, int64_t at) {
    const std::string what = "updating a CI pipeline's status";
    const std::string id = num(pipeline_id);
    if (auto st = exec(what, "SELECT id FROM ci_pipelines WHERE id = $1 FOR UPDATE", {id}); !st) {
        return fail(st.error());
    }
    // A statement after the lock: it sees every job change committed before it was granted.
    auto jobs = ci_jobs_of("{" + id + "}");
    if (!jobs) {
        return fail(jobs.error());
    }
    auto q = exec(what,
                  "UPDATE ci_pipelines SET status = $1, updated_at = $2 WHERE id = $3 AND "
                  "reason = ''",
                  {ci_pipeline_status(*jobs), num(at), id});
    if (!q) {
        return fail(q.error());
    }
    return {};
}

Result<int64_t> PgStore::enqueue_ci_pipeline(const CiPipeline& p) {
    if (auto st = check_ci_pipeline(p); !st) {
        return fail(st.error());
    }
    const std::string what = "enqueuing a CI pipeline";
    return transaction(what, [&]() -> Result<int64_t> {
        std::vector<CiJob> jobs = p.reason.empty() ? p.jobs : std::vector<CiJob>{};
        for (auto& j : jobs) {
            j.status = "queued";
        }
        const std::string status =
            p.reason.empty() ? ci_pipeline_status(jobs) : std::string("failed");
        auto q = exec(what,
                      "INSERT INTO ci_pipelines(repo, ref, commit_id, source, status, reason, "
                      "created_at, updated_at) VALUES($1,$2,$3,$4,$5,$6,$7,$7) RETURNING id",
                      {p.repo, p.ref, p.commit, p.source, status, p.reason, num(p.created_at)});
        if (!q) {
            return fail(q.error());
        }
        const int64_t id = q->integer(0, 0);
        for (const auto& j : jobs) {
            auto ins =
                exec(what,
                     "INSERT INTO ci_jobs(pipeline_id, name, definition, labels, status, "
                     "worker, lease_until, attempts, cancel_requested, run_id, failing, "
                     "detail, results, queued_at, started_at, finished_at) "
                     "VALUES($1,$2,$3,$4,'queued','',0,0,FALSE,'','','','',$5,0,0)",
                     {num(id), j.name, j.definition, join_roles(j.labels), num(p.created_at)});
            if (!ins) {
                return fail(ins.error());
            }
        }
        const std::string notify = std::string("SELECT pg_notify('") + k_ci_channel + "', '')";
        if (auto st = exec(what, notify.c_str()); !st) {
            return fail(st.error());
        }
        return id;
    });
}

Result<std::optional<CiJob>> PgStore::claim_ci_job(const CiClaim& c) {
    using Claimed = std::optional<CiJob>;
    const std::string what = "claiming a CI job";
    const std::string pick =
        sql_with("SELECT ",
                 " FROM ci_jobs WHERE (status = 'queued' OR (status = 'running' AND "
                 "lease_until < $1)) AND id > $2 ORDER BY id LIMIT " +
                     std::to_string(k_claim_batch) + " FOR UPDATE SKIP LOCKED");
    const std::string take = sql_with(
        "UPDATE ci_jobs SET status = 'running', worker = $1, lease_until = $2, "
        "attempts = attempts + 1, started_at = $3 WHERE id = $4 RETURNING ",
        "");
    return transaction(what, [&]() -> Result<Claimed> {
        Claimed claimed;
        std::set<int64_t> touched;  // pipelines whose status may have changed
        int64_t after = 0;
        while (!claimed) {
            auto q = exec(what, pick.c_str(), {num(c.now), num(after)});
            if (!q) {
                return fail(q.error());
            }
            if (q->rows() == 0) {
                break;
            }
            for (int i = 0; i < q->rows() && !claimed; ++i) {
                const CiJob j = read_job(*q, i);
                after = j.id;
                if (j.status == "running" && (j.cancel_requested || j.attempts >= c.max_attempts)) {
                    // Its worker died: cancelled as asked, or failed after too many deaths.
                    auto end = exec(
                        what,
                        "UPDATE ci_jobs SET status = $1, detail = $2, finished_at = $3 "
                        "WHERE id = $4",
                        {j.cancel_requested ? "cancelled" : "failed",
                         ci_lost_detail(j.attempts, j.cancel_requested), num(c.now), num(j.id)});
                    if (!end) {
                        return fail(end.error());
                    }
                    touched.insert(j.pipeline_id);
                    continue;
                }
                if (!ci_labels_match(j.labels, c.labels)) {
                    continue;
                }
                auto t = exec(what, take.c_str(),
                              {c.worker, num(c.now + c.lease_ms), num(c.now), num(j.id)});
                if (!t) {
                    return fail(t.error());
                }
                claimed = read_job(*t, 0);
                touched.insert(j.pipeline_id);
            }
            if (q->rows() < k_claim_batch) {
                break;
            }
        }
        for (const int64_t pipeline_id : touched) {  // in id order
            if (auto st = refresh_ci_pipeline(pipeline_id, c.now); !st) {
                return fail(st.error());
            }
        }
        return claimed;
    });
}

Result<CiLease> PgStore::renew_ci_lease(int64_t job_id, std::string_view worker, int64_t until) {
    auto q = exec("renewing a CI lease",
                  "UPDATE ci_jobs SET lease_until = $1 WHERE id = $2 AND status = 'running' AND "
                  "worker = $3 RETURNING cancel_requested",
                  {num(until), num(job_id), worker});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return CiLease{};
    }
    return CiLease{true, q->text(0, 0) == "t"};
}

Status PgStore::set_ci_job_run(int64_t job_id, std::string_view worker, std::string_view run_id) {
    auto q = exec("recording a CI job's run",
                  "UPDATE ci_jobs SET run_id = $1 WHERE id = $2 AND status = 'running' AND "
                  "worker = $3",
                  {run_id, num(job_id), worker});
    if (!q) {
        return fail(q.error());
    }
    if (q->affected() == 0) {
        return fail(Errc::conflict, "CI job " + std::to_string(job_id) + " is not held by '" +
                                        std::string(worker) + "'");
    }
    return {};
}

Result<bool> PgStore::finish_ci_job(const CiFinish& f) {
    if (f.status != "passed" && f.status != "failed" && f.status != "cancelled") {
        return fail(Errc::invalid_argument, "a CI job cannot finish as '" + f.status + "'");
    }
    const std::string what = "finishing a CI job";
    return transaction(what, [&]() -> Result<bool> {
        auto q =
            exec(what,
                 "UPDATE ci_jobs SET status = $1, failing = $2, detail = $3, results = $4, "
                 "finished_at = $5 WHERE id = $6 AND status = 'running' AND worker = $7 "
                 "RETURNING pipeline_id",
                 {f.status, f.failing, f.detail, f.results, num(f.at), num(f.job_id), f.worker});
        if (!q) {
            return fail(q.error());
        }
        if (q->rows() == 0) {
            return false;
        }
        if (auto st = refresh_ci_pipeline(q->integer(0, 0), f.at); !st) {
            return fail(st.error());
        }
        return true;
    });
}

Result<int64_t> PgStore::cancel_ci(int64_t pipeline_id, std::string_view job_name, int64_t at) {
    const std::string what = "cancelling CI jobs";
    const std::string id = num(pipeline_id);
    return transaction(what, [&]() -> Result<int64_t> {
        auto found = exec(what,
                          "SELECT (SELECT COUNT(*) FROM ci_pipelines WHERE id = $1), "
                          "(SELECT COUNT(*) FROM ci_jobs WHERE pipeline_id = $1 AND name = $2)",
                          {id, job_name});
        if (!found) {
            return fail(found.error());
        }
        if (found->integer(0, 0) == 0) {
            return fail(Errc::not_found, "no CI pipeline " + id);
        }
        if (!job_name.empty() && found->integer(0, 1) == 0) {
            return fail(Errc::not_found,
                        "CI pipeline " + id + " has no job '" + std::string(job_name) + "'");
        }
        auto queued = exec(what,
                           "UPDATE ci_jobs SET status = 'cancelled', finished_at = $1 WHERE "
                           "pipeline_id = $2 AND status = 'queued' AND ($3 = '' OR name = $3)",
                           {num(at), id, job_name});
        if (!queued) {
            return fail(queued.error());
        }
        auto running = exec(what,
                            "UPDATE ci_jobs SET cancel_requested = TRUE WHERE pipeline_id = $1 "
                            "AND status = 'running' AND NOT cancel_requested AND "
                            "($2 = '' OR name = $2)",
                            {id, job_name});
        if (!running) {
            return fail(running.error());
        }
        const int64_t changed = queued->affected() + running->affected();
        if (changed > 0) {
            if (auto st = refresh_ci_pipeline(pipeline_id, at); !st) {
                return fail(st.error());
            }
        }
        return changed;
    });
}

Result<CiJob> PgStore::get_ci_job(int64_t id) {
    const std::string sql = sql_with("SELECT ", " FROM ci_jobs WHERE id = $1");
    auto q = exec("reading a CI job", sql.c_str(), {num(id)});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return fail(Errc::not_found, "no CI job " + std::to_string(id));
    }
    return read_job(*q, 0);
}

Result<CiPipeline> PgStore::get_ci_pipeline(int64_t id) {
    const std::string sql = std::string(k_pipeline_columns) + "WHERE id = $1";
    auto q = exec("reading a CI pipeline", sql.c_str(), {num(id)});
    if (!q) {
        return fail(q.error());
    }
    if (q->rows() == 0) {
        return fail(Errc::not_found, "no CI pipeline " + std::to_string(id));
    }
    CiPipeline p = read_pipeline(*q, 0);
    auto jobs = ci_jobs_of("{" + num(id) + "}");
    if (!jobs) {
        return fail(jobs.error());
    }
    p.jobs = std::move(*jobs);
    return p;
}

Result<std::vector<CiPipeline>> PgStore::find_ci_pipelines(const CiFilter& f) {
    // Only the given fields are in the SQL, so that an index serves them; a commit prefix is
    // the range [prefix, prefix with its last byte + 1) of the (commit_id, created_at) index
    // (commit_id compares byte-wise: COLLATE "C").
    std::string sql = k_pipeline_columns + std::string("WHERE TRUE");
    std::vector<std::string> values;
    auto where = [&](const char* clause, const std::string& value) {
        values.push_back(value);
        sql += std::string(clause) + "$" + std::to_string(values.size());
    };
    if (!f.repo.empty()) {
        where(" AND repo = ", f.repo);
    }
    if (!f.ref.empty()) {
        where(" AND ref = ", f.ref);
    }
    if (f.commit.size() >= 4 && static_cast<unsigned char>(f.commit.back()) < 0x7f) {
        std::string upper = f.commit;
        upper.back() = static_cast<char>(upper.back() + 1);
        where(" AND commit_id >= ", f.commit);
        where(" AND commit_id < ", upper);
    } else if (!f.commit.empty()) {
        where(" AND commit_id = ", f.commit);
    }
    if (!f.status.empty()) {
        where(" AND status = ", f.status);
    }
    values.push_back(num(f.limit));
    sql += " ORDER BY created_at DESC, id DESC LIMIT $" + std::to_string(values.size());
    auto q = exec_values("finding CI pipelines", sql.c_str(), values);
    if (!q) {
        return fail(q.error());
    }
    std::vector<CiPipeline> out;
    out.reserve(static_cast<size_t>(q->rows()));
    std::string ids;
    for (int i = 0; i < q->rows(); ++i) {
        out.push_back(read_pipeline(*q, i));
        ids += (ids.empty() ? "" : ",") + num(out.back().id);
    }
    auto jobs = ci_jobs_of("{" + ids + "}");
    if (!jobs) {
        return fail(jobs.error());
    }
    for (auto& j : *jobs) {
        for (auto& p : out) {
            if (p.id == j.pipeline_id) {
                p.jobs.push_back(std::move(j));
                break;
            }
        }
    }
    return out;
}

Result<std::vector<CiPipeline>> PgStore::prune_ci(int64_t before) {
    const std::string what = "pruning CI pipelines";
    return transaction(what, [&]() -> Result<std::vector<CiPipeline>> {
        // Locked first: a pipeline chosen here cannot change before its rows are deleted.
        const std::string pick = std::string(k_pipeline_columns) +
                                 "WHERE status NOT IN ('queued', 'running') AND updated_at < $1 "
                                 "ORDER BY id FOR UPDATE";
        auto q = exec(what, pick.c_str(), {num(before)});
        if (!q) {
            return fail(q.error());
        }
        std::vector<CiPipeline> out;
        out.reserve(static_cast<size_t>(q->rows()));
        std::string ids;
        for (int i = 0; i < q->rows(); ++i) {
            out.push_back(read_pipeline(*q, i));
            ids += (ids.empty() ? "" : ",") + num(out.back().id);
        }
        ids = "{" + ids + "}";
        const std::string drop_jobs =
            sql_with("DELETE FROM ci_jobs WHERE pipeline_id = ANY($1::bigint[]) RETURNING ", "");
        auto jobs = exec(what, drop_jobs.c_str(), {ids});
        if (!jobs) {
            return fail(jobs.error());
        }
        if (auto st = exec(what, "DELETE FROM ci_pipelines WHERE id = ANY($1::bigint[])", {ids});
            !st) {
            return fail(st.error());
        }
        std::vector<CiJob> removed;
        removed.reserve(static_cast<size_t>(jobs->rows()));
        for (int i = 0; i < jobs->rows(); ++i) {
            removed.push_back(read_job(*jobs, i));
        }
        std::sort(removed.begin(), removed.end(),
                  [](const CiJob& x, const CiJob& y) { return x.id < y.id; });
        for (auto& j : removed) {
            for (auto& p : out) {
                if (p.id == j.pipeline_id) {
                    p.jobs.push_back(std::move(j));
                    break;
                }
            }
        }
        return out;
    });
}

Status PgStore::wait_for_ci_work(std::chrono::milliseconds timeout) {
    const std::string what = "waiting for CI work";
    const std::string listen = std::string("LISTEN ") + k_ci_channel;
    // LISTEN again every time: a no-op while listening, and it listens again on a connection
    // that was reset. The first time, work enqueued before it was not notified: wake at once.
    if (auto st = exec(what, listen.c_str()); !st) {
        return fail(st.error());
    }
    if (!std::exchange(m_listening_ci, true)) {
        return {};
    }
    // Notifications received during earlier statements wait in libpq: they count.
    if (drain_notifications(m_conn) > 0) {
        return {};
    }
    auto cancelled = wait_for_input(*this, timeout, -1, what);
    if (!cancelled) {
        return fail(cancelled.error());
    }
    (void)drain_notifications(m_conn);
    return {};
}

}  // namespace shipshape::store::pg_detail
