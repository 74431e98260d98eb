// The SQLite store's CI queue (#19; see store/ci.hpp). Every mutating call is one BEGIN IMMEDIATE
// transaction, which takes SQLite's write lock first: claimants on this machine (threads or
// processes) take turns, so a job is handed to one of them. Workers wait by sleeping
// (k_ci_poll): SQLite has no notifications.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_db.hpp"

namespace shipshape::store::sqlite_detail {

namespace {

// Candidates read per round of a claim.
constexpr size_t k_claim_batch = 32;

constexpr const char* k_job_columns =
    "SELECT id, pipeline_id, name, definition, labels, status, worker, lease_until, attempts, "
    "cancel_requested, run_id, failing, detail, results, queued_at, started_at, finished_at "
    "FROM ci_jobs ";
constexpr const char* k_pipeline_columns =
    "SELECT id, repo, ref, commit_id, source, status, reason, created_at, updated_at "
    "FROM ci_pipelines ";

CiJob read_job(const Statement& q) {
    CiJob j;
    j.id = q.integer(0);
    j.pipeline_id = q.integer(1);
    j.name = q.text(2);
    j.definition = q.text(3);
    j.labels = split_roles(q.text(4));
    j.status = q.text(5);
    j.worker = q.text(6);
    j.lease_until = q.integer(7);
    j.attempts = static_cast<int>(q.integer(8));
    j.cancel_requested = q.integer(9) != 0;
    j.run_id = q.text(10);
    j.failing = q.text(11);
    j.detail = q.text(12);
    j.results = q.text(13);
    j.queued_at = q.integer(14);
    j.started_at = q.integer(15);
    j.finished_at = q.integer(16);
    return j;
}

CiPipeline read_pipeline(const Statement& q) {
    CiPipeline p;
    p.id = q.integer(0);
    p.repo = q.text(1);
    p.ref = q.text(2);
    p.commit = q.text(3);
    p.source = q.text(4);
    p.status = q.text(5);
    p.reason = q.text(6);
    p.created_at = q.integer(7);
    p.updated_at = q.integer(8);
    return p;
}

}  // namespace

Result<std::vector<CiJob>> SqliteStore::ci_jobs_of(int64_t pipeline_id) {
    Statement q(*m_cache, std::string(k_job_columns) + "WHERE pipeline_id = ? ORDER BY id");
    q.bind(1, pipeline_id);
    std::vector<CiJob> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(read_job(q));
    }
    if (rc != SQLITE_DONE) {
        return db_error("reading CI jobs");
    }
    return out;
}

Status SqliteStore::refresh_ci_pipeline(int64_t pipeline_id, int64_t at) {
    auto jobs = ci_jobs_of(pipeline_id);
    if (!jobs) {
        return fail(jobs.error());
    }
    Statement q(*m_cache,
                "UPDATE ci_pipelines SET status = ?, updated_at = ? WHERE id = ? AND reason = ''");
    q.bind(1, ci_pipeline_status(*jobs)).bind(2, at).bind(3, pipeline_id);
    if (q.step() != SQLITE_DONE) {
        return db_error("updating a CI pipeline's status");
    }
    return {};
}

Result<int64_t> SqliteStore::enqueue_ci_pipeline(const CiPipeline& p) {
    if (auto st = check_ci_pipeline(p); !st) {
        return fail(st.error());
    }
    return transaction("enqueuing a CI pipeline", [&]() -> Result<int64_t> {
        std::vector<CiJob> jobs = p.reason.empty() ? p.jobs : std::vector<CiJob>{};
        for (auto& j : jobs) {
            j.status = "queued";
        }
        Statement q(*m_cache,
                    "INSERT INTO ci_pipelines(repo, ref, commit_id, source, status, reason, "
                    "created_at, updated_at) VALUES(?,?,?,?,?,?,?,?)");
        q.bind(1, p.repo).bind(2, p.ref).bind(3, p.commit).bind(4, p.source);
        q.bind(5, p.reason.empty() ? ci_pipeline_status(jobs) : std::string("failed"));
        q.bind(6, p.reason).bind(7, p.created_at).bind(8, p.created_at);
        if (q.step() != SQLITE_DONE) {
            return db_error("enqueuing a CI pipeline");
        }
        const int64_t id = sqlite3_last_insert_rowid(m_db);
        Statement ins(*m_cache,
                      "INSERT INTO ci_jobs(pipeline_id, name, definition, labels, status, worker, "
                      "lease_until, attempts, cancel_requested, run_id, failing, detail, results, "
                      "queued_at, started_at, finished_at) "
                      "VALUES(?,?,?,?,'queued','',0,0,0,'','','','',?,0,0)");
        for (const auto& j : jobs) {
            ins.reset();
            ins.bind(1, id).bind(2, j.name).bind(3, j.definition).bind(4, join_roles(j.labels));
            ins.bind(5, p.created_at);
            if (ins.step() != SQLITE_DONE) {
                return db_error("enqueuing a CI job");
            }
        }
        return id;
    });
}

Result<std::optional<CiJob>> SqliteStore::claim_ci_job(const CiClaim& c) {
    using Claimed = std::optional<CiJob>;
    return transaction("claiming a CI job", [&]() -> Result<Claimed> {
        // Candidates are read in batches, oldest first, until one fits.
        for (int64_t after = 0;;) {
            auto batch = claim_candidates(c.now, after);
            if (!batch) {
                return fail(batch.error());
            }
            for (const auto& j : *batch) {
                after = j.id;
                auto taken = claim_candidate(j, c);
                if (!taken || *taken) {
                    return taken;
                }
            }
            if (batch->size() < k_claim_batch) {
                return Claimed();
            }
        }
    });
}

Result<std::vector<CiJob>> SqliteStore::claim_candidates(int64_t now, int64_t after) {
    Statement q(*m_cache, std::string(k_job_columns) +
                              "WHERE (status = 'queued' OR (status = 'running' AND "
                              "lease_until < ?)) AND id > ? ORDER BY id LIMIT ?");
    q.bind(1, now).bind(2, after).bind(3, static_cast<int64_t>(k_claim_batch));
    std::vector<CiJob> out;
    out.reserve(k_claim_batch);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        out.push_back(read_job(q));
    }
    if (rc != SQLITE_DONE) {
        return db_error("claiming a CI job");
    }
    return out;
}

Result<std::optional<CiJob>> SqliteStore::claim_candidate(const CiJob& j, const CiClaim& c) {
    using Claimed = std::optional<CiJob>;
    if (j.status == "running" && (j.cancel_requested || j.attempts >= c.max_attempts)) {
        // Its worker died: cancelled as asked, or failed after too many deaths.
        Statement end(*m_cache,
                      "UPDATE ci_jobs SET status = ?, detail = ?, finished_at = ? WHERE id = ?");
        end.bind(1, j.cancel_requested ? "cancelled" : "failed");
        end.bind(2, ci_lost_detail(j.attempts, j.cancel_requested));
        end.bind(3, c.now).bind(4, j.id);
        if (end.step() != SQLITE_DONE) {
            return db_error("ending a lost CI job");
        }
        if (auto st = refresh_ci_pipeline(j.pipeline_id, c.now); !st) {
            return fail(st.error());
        }
        return Claimed();
    }
    if (!ci_labels_match(j.labels, c.labels)) {
        return Claimed();
    }
    Statement take(*m_cache,
                   "UPDATE ci_jobs SET status = 'running', worker = ?, lease_until = ?, "
                   "attempts = attempts + 1, started_at = ? WHERE id = ?");
    take.bind(1, c.worker).bind(2, c.now + c.lease_ms).bind(3, c.now).bind(4, j.id);
    if (take.step() != SQLITE_DONE) {
        return db_error("claiming a CI job");
    }
    if (auto st = refresh_ci_pipeline(j.pipeline_id, c.now); !st) {
        return fail(st.error());
    }
    auto claimed = get_ci_job(j.id);
    if (!claimed) {
        return fail(claimed.error());
    }
    return Claimed(std::move(*claimed));
}

Result<CiLease> SqliteStore::renew_ci_lease(int64_t job_id, std::string_view worker,
                                            int64_t until) {
    return transaction("renewing a CI lease", [&]() -> Result<CiLease> {
        Statement q(*m_cache,
                    "UPDATE ci_jobs SET lease_until = ? WHERE id = ? AND status = 'running' AND "
                    "worker = ? RETURNING cancel_requested");
        q.bind(1, until).bind(2, job_id).bind(3, worker);
        const int rc = q.step();
        if (rc == SQLITE_DONE) {
            return CiLease{};
        }
        if (rc != SQLITE_ROW) {
            return db_error("renewing a CI lease");
        }
        const CiLease lease{true, q.integer(0) != 0};
        if (q.step() != SQLITE_DONE) {
            return db_error("renewing a CI lease");
        }
        return lease;
    });
}

Status SqliteStore::set_ci_job_run(int64_t job_id, std::string_view worker,
                                   std::string_view run_id) {
    return transaction("recording a CI job's run", [&]() -> Status {
        Statement q(*m_cache,
                    "UPDATE ci_jobs SET run_id = ? WHERE id = ? AND status = 'running' AND "
                    "worker = ?");
        q.bind(1, run_id).bind(2, job_id).bind(3, worker);
        if (q.step() != SQLITE_DONE) {
            return db_error("recording a CI job's run");
        }
        if (sqlite3_changes(m_db) == 0) {
            return fail(Errc::conflict, "CI job " + std::to_string(job_id) + " is not held by '" +
                                            std::string(worker) + "'");
        }
        return {};
    });
}

Result<bool> SqliteStore::finish_ci_job(const CiFinish& f) {
    if (f.status != "passed" && f.status != "failed" && f.status != "cancelled") {
        return fail(Errc::invalid_argument, "a CI job cannot finish as '" + f.status + "'");
    }
    return transaction("finishing a CI job", [&]() -> Result<bool> {
        Statement q(*m_cache,
                    "UPDATE ci_jobs SET status = ?, failing = ?, detail = ?, results = ?, "
                    "finished_at = ? WHERE id = ? AND status = 'running' AND worker = ? "
                    "RETURNING pipeline_id");
        q.bind(1, f.status).bind(2, f.failing).bind(3, f.detail).bind(4, f.results);
        q.bind(5, f.at).bind(6, f.job_id).bind(7, f.worker);
        const int rc = q.step();
        if (rc == SQLITE_DONE) {
            return false;
        }
        if (rc != SQLITE_ROW) {
            return db_error("finishing a CI job");
        }
        const int64_t pipeline_id = q.integer(0);
        if (q.step() != SQLITE_DONE) {
            return db_error("finishing a CI job");
        }
        if (auto st = refresh_ci_pipeline(pipeline_id, f.at); !st) {
            return fail(st.error());
        }
        return true;
    });
}

Result<int64_t> SqliteStore::cancel_ci(int64_t pipeline_id, std::string_view job_name, int64_t at) {
    return transaction("cancelling CI jobs", [&]() -> Result<int64_t> {
        auto jobs = ci_jobs_of(pipeline_id);
        if (!jobs) {
            return fail(jobs.error());
        }
        Statement exists(*m_cache, "SELECT 1 FROM ci_pipelines WHERE id = ?");
        exists.bind(1, pipeline_id);
        if (exists.step() != SQLITE_ROW) {
            return fail(Errc::not_found, "no CI pipeline " + std::to_string(pipeline_id));
        }
        const bool named = !job_name.empty();
        if (named && std::none_of(jobs->begin(), jobs->end(),
                                  [&](const CiJob& j) { return j.name == job_name; })) {
            return fail(Errc::not_found, "CI pipeline " + std::to_string(pipeline_id) +
                                             " has no job '" + std::string(job_name) + "'");
        }
        Statement queued(*m_cache,
                         "UPDATE ci_jobs SET status = 'cancelled', finished_at = ? WHERE "
                         "pipeline_id = ? AND status = 'queued' AND (? = '' OR name = ?)");
        queued.bind(1, at).bind(2, pipeline_id).bind(3, job_name).bind(4, job_name);
        if (queued.step() != SQLITE_DONE) {
            return db_error("cancelling CI jobs");
        }
        int64_t changed = sqlite3_changes(m_db);
        Statement running(*m_cache,
                          "UPDATE ci_jobs SET cancel_requested = 1 WHERE pipeline_id = ? AND "
                          "status = 'running' AND cancel_requested = 0 AND (? = '' OR name = ?)");
        running.bind(1, pipeline_id).bind(2, job_name).bind(3, job_name);
        if (running.step() != SQLITE_DONE) {
            return db_error("cancelling CI jobs");
        }
        changed += sqlite3_changes(m_db);
        if (changed > 0) {
            if (auto st = refresh_ci_pipeline(pipeline_id, at); !st) {
                return fail(st.error());
            }
        }
        return changed;
    });
}

Result<CiJob> SqliteStore::get_ci_job(int64_t id) {
    Statement q(*m_cache, std::string(k_job_columns) + "WHERE id = ?");
    q.bind(1, id);
    const int rc = q.step();
    if (rc == SQLITE_DONE) {
        return fail(Errc::not_found, "no CI job " + std::to_string(id));
    }
    if (rc != SQLITE_ROW) {
        return db_error("reading a CI job");
    }
    return read_job(q);
}

Result<CiPipeline> SqliteStore::get_ci_pipeline(int64_t id) {
    CiPipeline p;
    {
        Statement q(*m_cache, std::string(k_pipeline_columns) + "WHERE id = ?");
        q.bind(1, id);
        const int rc = q.step();
        if (rc == SQLITE_DONE) {
            return fail(Errc::not_found, "no CI pipeline " + std::to_string(id));
        }
        if (rc != SQLITE_ROW) {
            return db_error("reading a CI pipeline");
        }
        p = read_pipeline(q);
    }
    auto jobs = ci_jobs_of(id);
    if (!jobs) {
        return fail(jobs.error());
    }
    p.jobs = std::move(*jobs);
    return p;
}

Result<std::vector<CiPipeline>> SqliteStore::find_ci_pipelines(const CiFilter& f) {
    // Only the given fields are in the SQL, so that an index serves them; a commit prefix is
    // the range [prefix, prefix with its last byte + 1) of the (commit_id, created_at) index.
    std::string sql = k_pipeline_columns + std::string("WHERE 1 = 1");
    std::vector<std::string> values;
    auto where = [&](const char* clause, const std::string& value) {
        sql += clause;
        values.push_back(value);
    };
    if (!f.repo.empty()) {
        where(" AND repo = ?", f.repo);
    }
    if (!f.ref.empty()) {
        where(" AND ref = ?", f.ref);
    }
    if (f.commit.size() >= 4 && static_cast<unsigned char>(f.commit.back()) < 0x7f) {
        std::string upper = f.commit;
        upper.back() = static_cast<char>(upper.back() + 1);
        where(" AND commit_id >= ?", f.commit);
        where(" AND commit_id < ?", upper);
    } else if (!f.commit.empty()) {
        where(" AND commit_id = ?", f.commit);
    }
    if (!f.status.empty()) {
        where(" AND status = ?", f.status);
    }
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?";
    std::vector<CiPipeline> out;
    {
        Statement q(*m_cache, sql);
        int i = 1;
        for (const auto& v : values) {
            q.bind(i++, v);
        }
        q.bind(i, static_cast<int64_t>(f.limit));
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) {
            out.push_back(read_pipeline(q));
        }
        if (rc != SQLITE_DONE) {
            return db_error("finding CI pipelines");
        }
    }
    for (auto& p : out) {
        auto jobs = ci_jobs_of(p.id);
        if (!jobs) {
            return fail(jobs.error());
        }
        p.jobs = std::move(*jobs);
    }
    return out;
}

Result<std::vector<CiPipeline>> SqliteStore::prune_ci(int64_t before) {
    return transaction("pruning CI pipelines", [&]() -> Result<std::vector<CiPipeline>> {
        std::vector<int64_t> ids;
        {
            Statement q(*m_cache,
                        "SELECT id FROM ci_pipelines WHERE status NOT IN ('queued', 'running') "
                        "AND updated_at < ? ORDER BY id");
            q.bind(1, before);
            int rc;
            while ((rc = q.step()) == SQLITE_ROW) {
                ids.push_back(q.integer(0));
            }
            if (rc != SQLITE_DONE) {
                return db_error("pruning CI pipelines");
            }
        }
        std::vector<CiPipeline> out;
        out.reserve(ids.size());
        for (const int64_t id : ids) {
            auto p = get_ci_pipeline(id);
            if (!p) {
                return fail(p.error());
            }
            out.push_back(std::move(*p));
            for (const auto* sql : {"DELETE FROM ci_jobs WHERE pipeline_id = ?",
                                    "DELETE FROM ci_pipelines WHERE id = ?"}) {
                Statement del(*m_cache, sql);
                del.bind(1, id);
                if (del.step() != SQLITE_DONE) {
                    return db_error("pruning CI pipelines");
                }
            }
        }
        return out;
    });
}

Status SqliteStore::wait_for_ci_work(std::chrono::milliseconds timeout) {
    std::this_thread::sleep_for(std::min(timeout, k_ci_poll));
    return {};
}

}  // namespace shipshape::store::sqlite_detail
