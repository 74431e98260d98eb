// The clock-skew preload library (LD_PRELOAD, set by the sandbox for --clock-skew): shifts the
// wall clock that clock_gettime(CLOCK_REALTIME…), gettimeofday and time return by
// SHIPSHAPE_CLOCK_SKEW seconds, and counts every shifted read in a shared page (the memfd
// named by SHIPSHAPE_CLOCK_SKEW_FD) so the fault report can say whether the program looked.
// Monotonic clocks are left alone: a skewed wall clock is the fault real hosts have.
// Only C calls: it is loaded into arbitrary programs.
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>

#include <cstdint>
#include <cstdlib>

namespace {

long long g_skew = 0;
uint64_t* g_count = nullptr;

using ClockGettime = int (*)(clockid_t, timespec*);
using Gettimeofday = int (*)(timeval*, void*);

ClockGettime real_clock_gettime() {
    static auto fn = reinterpret_cast<ClockGettime>(dlsym(RTLD_NEXT, "clock_gettime"));
    return fn;
}

Gettimeofday real_gettimeofday() {
    static auto fn = reinterpret_cast<Gettimeofday>(dlsym(RTLD_NEXT, "gettimeofday"));
    return fn;
}

void counted() {
    if (g_count) {
        __atomic_add_fetch(g_count, 1, __ATOMIC_RELAXED);
    }
}

__attribute__((constructor)) void init_skew() {
    if (const char* s = std::getenv("SHIPSHAPE_CLOCK_SKEW")) {
        g_skew = std::atoll(s);
    }
    if (const char* fd = std::getenv("SHIPSHAPE_CLOCK_SKEW_FD")) {
        void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, std::atoi(fd), 0);
        if (p != MAP_FAILED) {
            g_count = static_cast<uint64_t*>(p);
        }
    }
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int clock_gettime(clockid_t id, timespec* ts) {
    int rc = real_clock_gettime()(id, ts);
    if (rc == 0 && ts && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI)) {
        ts->tv_sec += g_skew;
        counted();
    }
    return rc;
}

__attribute__((visibility("default"))) int gettimeofday(timeval* tv, void* tz) {
    int rc = real_gettimeofday()(tv, tz);
    if (rc == 0 && tv) {
        tv->tv_sec += g_skew;
        counted();
    }
    return rc;
}

__attribute__((visibility("default"))) time_t time(time_t* out) {
    timespec ts{};
    real_clock_gettime()(CLOCK_REALTIME, &ts);
    time_t t = ts.tv_sec + g_skew;
    counted();
    if (out) {
        *out = t;
    }
    return t;
}

}  // extern "C"
