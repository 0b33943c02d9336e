// qsim_shim.cpp - the thin C++ shim: the C API of sim/qsim.h over one Verilated top.
//
// Top-agnostic: the top's class, header, clock and port list come from the X-macro header named
// by -DQSIM_PORTS_H (sim/ports_<top>.h). No test logic lives here; stimulus, reference models and
// comparison are C. Traces are FST (--trace-fst); a build verilated without it (VM_TRACE=0)
// refuses to trace.
#include "qsim.h"

#include QSIM_PORTS_H
#include QSIM_TOP_HEADER

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "verilated.h"
#if VM_TRACE
#include "verilated_fst_c.h"
#else
class VerilatedFstC; // a build without --trace-fst: qsim_trace_open() refuses
#endif

namespace
{

enum : int {
#define QSIM_ID(name, width, dir) QSIM_ID_##name,
    QSIM_PORTS(QSIM_ID)
#undef QSIM_ID
        QSIM_N_PORTS
};

struct PortInfo {
    const char *name;
    uint32_t width;
    qsim_dir dir;
};

const PortInfo k_ports[QSIM_N_PORTS] = {
#define QSIM_INFO(name, width, dir) {#name, (width), (dir)},
    QSIM_PORTS(QSIM_INFO)
#undef QSIM_INFO
};

// Bytes of the storage Verilator uses for a port of `width` bits (CData, SData, IData, QData,
// VlWide<N>): used to check the port table against the Verilated class at compile time.
constexpr size_t storage_bytes(uint32_t width)
{
    return width <= 8 ? 1 : width <= 16 ? 2 : width <= 32 ? 4 : width <= 64 ? 8 : 4 * ((width + 31) / 32);
}

#define QSIM_CHECK(name, width, dir)                                                                         \
    static_assert(sizeof(decltype(std::declval<QSIM_TOP &>().name)) == storage_bytes(width),                 \
                  "port table width of " #name " does not match the Verilated model (-G vs -DQSIM_*)");
QSIM_PORTS(QSIM_CHECK)
#undef QSIM_CHECK

constexpr uint32_t low_mask(uint32_t width)
{
    return (width % 32) ? ((1u << (width % 32)) - 1u) : 0xffffffffu;
}

// poke: scalar storage (CData, SData, IData)
template <typename T> inline void put(T &sig, const uint32_t *w, uint32_t width)
{
    sig = static_cast<T>(w[0] & low_mask(width));
}
inline void put(QData &sig, const uint32_t *w, uint32_t width)
{
    sig = static_cast<QData>(w[0]) | (static_cast<QData>(w[1] & low_mask(width)) << 32);
}
template <std::size_t N> inline void put(VlWide<N> &sig, const uint32_t *w, uint32_t width)
{
    for (std::size_t i = 0; i + 1 < N; i++)
        sig[i] = w[i];
    sig[N - 1] = w[N - 1] & low_mask(width);
}

template <typename T> inline void get(const T &sig, uint32_t *w)
{
    w[0] = static_cast<uint32_t>(sig);
}
inline void get(const QData &sig, uint32_t *w)
{
    w[0] = static_cast<uint32_t>(sig);
    w[1] = static_cast<uint32_t>(sig >> 32);
}
template <std::size_t N> inline void get(const VlWide<N> &sig, uint32_t *w)
{
    std::memcpy(w, sig.data(), N * sizeof(uint32_t));
}

qmac_status fail(qmac_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
qmac_status fail(qmac_status st, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return qmac_set_error(st, "%s", buf);
}

} // namespace

struct qsim {
    VerilatedContext ctx;
    QSIM_TOP top;
    VerilatedFstC *trace = nullptr;
    std::string trace_path;
    uint64_t cycle = 0;

    qsim() : top(&ctx, "TOP") {}
};

extern "C" {

const char *qsim_top_name(void)
{
    return QSIM_TOP_NAME;
}

int qsim_port_count(void)
{
    return QSIM_N_PORTS;
}

qmac_status qsim_port_info(int id, const char **name, uint32_t *width, qsim_dir *dir)
{
    if (id < 0 || id >= QSIM_N_PORTS)
        return fail(QMAC_ERR_INVALID_ARG, "%s: no port with id %d", QSIM_TOP_NAME, id);
    if (name)
        *name = k_ports[id].name;
    if (width)
        *width = k_ports[id].width;
    if (dir)
        *dir = k_ports[id].dir;
    return QMAC_OK;
}

qmac_status qsim_port_find(const char *name, qsim_dir dir, int *id, uint32_t *width)
{
    for (int i = 0; i < QSIM_N_PORTS; i++) {
        if (std::strcmp(k_ports[i].name, name) != 0)
            continue;
        if (k_ports[i].dir != dir)
            return fail(QMAC_ERR_INVALID_ARG, "%s: port %s is an %s", QSIM_TOP_NAME, name,
                        k_ports[i].dir == QSIM_IN ? "input" : "output");
        *id = i;
        if (width)
            *width = k_ports[i].width;
        return QMAC_OK;
    }
    return fail(QMAC_ERR_INVALID_ARG, "%s: no port named %s", QSIM_TOP_NAME, name);
}

qmac_status qsim_create(qsim **out)
{
    *out = nullptr;
    qsim *s = new (std::nothrow) qsim;
    if (!s)
        return fail(QMAC_ERR_NOMEM, "qsim_create: out of memory");
    // Tracing may be switched on at any later cycle: this only makes Verilator compute every signal.
    s->ctx.traceEverOn(true);
    s->top.QSIM_CLOCK = 0;
    s->top.eval();
    *out = s;
    return QMAC_OK;
}

void qsim_destroy(qsim *s)
{
    if (!s)
        return;
    s->top.final();
    qsim_trace_close(s);
    delete s;
}

void qsim_poke(qsim *s, int id, const uint32_t *words)
{
    switch (id) {
#define QSIM_POKE(name, width, dir)                                                                          \
    case QSIM_ID_##name:                                                                                     \
        if ((dir) == QSIM_IN)                                                                                \
            put(s->top.name, words, (width));                                                                \
        break;
        QSIM_PORTS(QSIM_POKE)
#undef QSIM_POKE
    default: break;
    }
}

void qsim_peek(const qsim *s, int id, uint32_t *words)
{
    switch (id) {
#define QSIM_PEEK(name, width, dir)                                                                          \
    case QSIM_ID_##name: get(s->top.name, words); break;
        QSIM_PORTS(QSIM_PEEK)
#undef QSIM_PEEK
    default: break;
    }
}

void qsim_eval(qsim *s)
{
    s->top.eval();
}

void qsim_tick(qsim *s)
{
    const uint64_t t = s->cycle * 10;
    s->top.QSIM_CLOCK = 0;
    s->top.eval();
#if VM_TRACE
    if (s->trace)
        s->trace->dump(t + 5);
#endif
    s->top.QSIM_CLOCK = 1;
    s->top.eval();
#if VM_TRACE
    if (s->trace)
        s->trace->dump(t + 10);
#else
    (void)t;
#endif
    s->cycle++;
}

uint64_t qsim_cycle(const qsim *s)
{
    return s->cycle;
}

qmac_status qsim_trace_open(qsim *s, const char *path)
{
    const size_t n = std::strlen(path);
    if (n == 0)
        return fail(QMAC_ERR_INVALID_ARG, "trace: empty file name");
    if (n >= 4 && std::strcmp(path + n - 4, ".vcd") == 0)
        return fail(QMAC_ERR_INVALID_ARG, "trace %s: this build writes FST only (name it .fst)", path);
#if !VM_TRACE
    (void)s;
    return fail(QMAC_ERR_UNSUPPORTED, "trace %s: this simulator was built without trace support", path);
#else
    qsim_trace_close(s);
    // Check the path first: VerilatedFstC::open() does not report a file it cannot create.
    FILE *f = std::fopen(path, "wb");
    if (!f)
        return fail(QMAC_ERR_IO, "trace %s: cannot create the file", path);
    std::fclose(f);
    VerilatedFstC *tfp = new (std::nothrow) VerilatedFstC;
    if (!tfp)
        return fail(QMAC_ERR_NOMEM, "trace %s: out of memory", path);
    s->top.trace(tfp, 99);
    tfp->open(path);
    if (!tfp->isOpen()) {
        delete tfp;
        return fail(QMAC_ERR_IO, "trace %s: cannot open", path);
    }
    s->trace = tfp;
    s->trace_path = path;
    // the state before the first tick, at the start of the current cycle
    tfp->dump(s->cycle * 10);
    return QMAC_OK;
#endif
}

bool qsim_trace_supported(void)
{
    return VM_TRACE != 0;
}

void qsim_trace_close(qsim *s)
{
    if (!s->trace)
        return;
#if VM_TRACE
    s->trace->close();
    delete s->trace;
#endif
    s->trace = nullptr;
    s->trace_path.clear();
}

const char *qsim_trace_path(const qsim *s)
{
    return s->trace ? s->trace_path.c_str() : nullptr;
}

} // extern "C"
