// Batched Monte Carlo pricing of an arithmetic-average (Asian) barrier call, in CUDA C.
//
// Semantics (the same on every backend of helpers.mc):
//   s_{n+1} = s_n + mu*dt*s_n + sigma*s_n*sqrt(dt)*Z_n,  dt = T/N_STEPS;
//   the running average of s_1..s_n is tested after every step: at or below B the path is
//   knocked out and pays nothing; a surviving path pays exp(-r*T)*max(average - K, 0).
//
// Two kernels:
//   batched_barrier_option   the article's kernel: one thread per (option, path), normals read
//                            from a buffer of N_BATCH*N_PATHS*N_STEPS floats drawn beforehand.
//   barrier_option_philox    the production kernel: normals drawn in registers by Philox4x32-10
//                            (no buffer), paths summed per block so only prices and standard
//                            errors leave the GPU.
// Compiled at run time by CuPy (NVRTC); `nvcc -ptx` compiles it too, as a test does.

// ---------------------------------------------------------------------------------------------
// The article's kernel, with three fixes: 64-bit loop indices (its 32-bit `unsigned` counter
// wraps once a batch holds 2^32 paths), a knocked-out path pays nothing even when B >= K, and the
// running sum is compared with B*n instead of dividing by n+1 at every step.
// ---------------------------------------------------------------------------------------------
extern "C" __global__ void batched_barrier_option(
    float *d_s,               // out: N_BATCH*N_PATHS discounted payoffs, option-major
    const float T,            // maturity, years
    const float *K,           // strikes, N_BATCH
    const float *B,           // barriers, N_BATCH
    const float *S0,          // spots, N_BATCH
    const float *sigma,       // annualised volatilities, N_BATCH
    const float *mu,          // annualised drifts, N_BATCH
    const float *r,           // continuously compounded rates, N_BATCH
    const float *d_normals,   // N_STEPS*N_BATCH*N_PATHS standard normals, step-major
    const long long N_STEPS,
    const long long N_PATHS,
    const long long N_BATCH)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    const float sqrt_dt = sqrtf(T / N_STEPS);
    for (long long i = threadIdx.x + (long long)blockIdx.x * blockDim.x;
         i < N_PATHS * N_BATCH; i += stride) {
        const long long batch_id = i / N_PATHS;
        const long long path_id = i % N_PATHS;
        const float drift = mu[batch_id] * T / N_STEPS;
        const float vol = sigma[batch_id] * sqrt_dt;
        const double barrier = B[batch_id];
        float s_curr = S0[batch_id];
        double running_sum = 0.0;
        bool knocked_out = false;
        for (long long n = 0; n < N_STEPS; n++) {
            const float z = d_normals[path_id + batch_id * N_PATHS + n * N_PATHS * N_BATCH];
            s_curr += drift * s_curr + vol * s_curr * z;
            running_sum += s_curr;
            if (running_sum <= barrier * (n + 1)) {
                knocked_out = true;
                break;
            }
        }
        const float payoff = knocked_out ? 0.f : fmaxf((float)(running_sum / N_STEPS) - K[batch_id], 0.f);
        d_s[i] = expf(-r[batch_id] * T) * payoff;
    }
}

// ---------------------------------------------------------------------------------------------
// Philox4x32-10 (Salmon et al., SC'11), and Box-Muller as helpers/mc/normals.py computes it.
// These functions are __host__ __device__ so that a host program (tests/cuda_host_harness.cu)
// can check them against the Python definition on a machine without a GPU.
// ---------------------------------------------------------------------------------------------
struct uint4_ { unsigned int x, y, z, w; };

__host__ __device__ __forceinline__ unsigned int mulhi32(unsigned int a, unsigned int b)
{
#ifdef __CUDA_ARCH__
    return __umulhi(a, b);
#else
    return (unsigned int)(((unsigned long long)a * b) >> 32);
#endif
}

__host__ __device__ __forceinline__ uint4_ philox4x32_10(uint4_ c, unsigned int k0, unsigned int k1)
{
    #pragma unroll
    for (int round = 0; round < 10; round++) {
        const unsigned int hi0 = mulhi32(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        const unsigned int hi1 = mulhi32(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = uint4_{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

// Box-Muller with Cephes' float32 polynomials for log, sin and cos (helpers/mc/normals.py is the
// definition, with the measured errors; a test checks that every RNG_ constant here equals its
// constant there). No branches: every test is a select, as on the CPU, where that is what lets
// the compiler vectorise the draw. On a GPU, nvcc fuses multiply-adds (--fmad=true), so the
// normals can differ from the CPU's in their last bit or two.
#define RNG_LOG_P0 7.0376836292e-2f
#define RNG_LOG_P1 -1.1514610310e-1f
#define RNG_LOG_P2 1.1676998740e-1f
#define RNG_LOG_P3 -1.2420140846e-1f
#define RNG_LOG_P4 1.4249322787e-1f
#define RNG_LOG_P5 -1.6668057665e-1f
#define RNG_LOG_P6 2.0000714765e-1f
#define RNG_LOG_P7 -2.4999993993e-1f
#define RNG_LOG_P8 3.3333331174e-1f
#define RNG_LN2_HI 0.693359375f
#define RNG_LN2_LO -2.12194440e-4f
#define RNG_SQRT_HALF 0.707106781186547524f
#define RNG_SIN_P0 -1.9515295891e-4f
#define RNG_SIN_P1 8.3321608736e-3f
#define RNG_SIN_P2 -1.6666654611e-1f
#define RNG_COS_P0 2.443315711809948e-5f
#define RNG_COS_P1 -1.388731625493765e-3f
#define RNG_COS_P2 4.166664568298827e-2f
#define RNG_QUARTER_TURN_PER_2_31 1.4629180792671596e-9f   // pi / 2^31
#define RNG_TWO_POW_M32 2.3283064365386963e-10f             // 2^-32

// log(u) for u in [2^-33, 1]: scaled into [1/2, 1] by exact powers of two, then Cephes logf.
__host__ __device__ __forceinline__ float log_unit(float u)
{
    float e = 0.0f;
    bool small;
    small = u < 1.52587890625e-5f; u = small ? u * 65536.0f : u; e = small ? e - 16.0f : e;
    small = u < 3.90625e-3f;       u = small ? u * 256.0f : u;   e = small ? e - 8.0f : e;
    small = u < 0.0625f;           u = small ? u * 16.0f : u;    e = small ? e - 4.0f : e;
    small = u < 0.25f;             u = small ? u * 4.0f : u;     e = small ? e - 2.0f : e;
    small = u < 0.5f;              u = small ? u * 2.0f : u;     e = small ? e - 1.0f : e;
    small = u < 0.5f;              u = small ? u * 2.0f : u;     e = small ? e - 1.0f : e;
    const bool low = u < RNG_SQRT_HALF;
    const float x = low ? (u + u - 1.0f) : (u - 1.0f);
    e = low ? e - 1.0f : e;
    const float z = x * x;
    float p = RNG_LOG_P0 * x + RNG_LOG_P1;
    p = p * x + RNG_LOG_P2;
    p = p * x + RNG_LOG_P3;
    p = p * x + RNG_LOG_P4;
    p = p * x + RNG_LOG_P5;
    p = p * x + RNG_LOG_P6;
    p = p * x + RNG_LOG_P7;
    p = p * x + RNG_LOG_P8;
    float y = p * x * z + RNG_LN2_LO * e;
    y = y - 0.5f * z;
    return x + y + RNG_LN2_HI * e;
}

// cos and sin of 2 pi w / 2^32: quadrant k and a residual in [-pi/4, pi/4) split in integers.
__host__ __device__ __forceinline__ void sincos_turn(unsigned int w, float &c_out, float &s_out)
{
    const unsigned int v = w + 0x20000000u;  // wraps mod 2^32, as the Python masks it
    const unsigned int k = v >> 30;
    const int residual = (int)(v & 0x3FFFFFFFu) - 0x20000000;
    const float a = (float)residual * RNG_QUARTER_TURN_PER_2_31;
    const float z = a * a;
    const float s = ((RNG_SIN_P0 * z + RNG_SIN_P1) * z + RNG_SIN_P2) * z * a + a;
    const float c = ((RNG_COS_P0 * z + RNG_COS_P1) * z + RNG_COS_P2) * z * z - 0.5f * z + 1.0f;
    const bool odd = k & 1u;
    float cc = odd ? s : c;
    float ss = odd ? c : s;
    cc = ((k + 1u) & 2u) ? -cc : cc;
    ss = (k & 2u) ? -ss : ss;
    c_out = cc;
    s_out = ss;
}

__host__ __device__ __forceinline__ void box_muller(unsigned int x0, unsigned int x1, float &za, float &zb)
{
    const float u1 = ((float)x0 + 0.5f) * RNG_TWO_POW_M32;  // [2^-33, 1]
    const float radius = sqrtf(-2.0f * log_unit(u1));
    float c, s;
    sincos_turn(x1, c, s);
    za = radius * c;
    zb = radius * s;
}

// Discounted payoff of path `path` of option `option`: the normals of steps 4j..4j+3 come from
// philox4x32_10({j, path, option, 0}, seed), exactly as in helpers/mc/path.py.
__host__ __device__ float path_payoff(float K, float B, float S0, float sigma, float mu, float r, float T,
                             unsigned int n_steps, unsigned int key0, unsigned int key1,
                             unsigned int option, unsigned int path)
{
    const float dt = T / n_steps;
    const float drift = mu * dt;
    const float vol = sigma * sqrtf(dt);
    const double barrier = B;
    float s = S0;
    double running_sum = 0.0;
    unsigned int n = 0;
    for (unsigned int block = 0; n < n_steps; block++) {
        const uint4_ x = philox4x32_10(uint4_{block, path, option, 0u}, key0, key1);
        float z[4];
        box_muller(x.x, x.y, z[0], z[1]);
        box_muller(x.z, x.w, z[2], z[3]);
        #pragma unroll
        for (int j = 0; j < 4; j++) {
            if (n == n_steps) break;
            s += drift * s + vol * s * z[j];
            n++;
            running_sum += s;
            if (running_sum <= barrier * n) return 0.0f;
        }
    }
    const float payoff = (float)(running_sum / n_steps) - K;
    if (payoff <= 0.0f) return 0.0f;  // never expf(-r*T) * 0: inf * 0 would be NaN
    return expf(-r * T) * payoff;
}

// Sum over the block of one double per thread; the result is valid in thread 0.
__device__ double block_sum(double v)
{
    __shared__ double warp_sums[32];
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();  // warp_sums may still be read by a previous call
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = (lane < (blockDim.x + 31) / 32) ? warp_sums[lane] : 0.0;
        #pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    }
    return v;
}

// Grid: (blocks_per_option, options_in_launch); block: a multiple of 32 threads, at most 1024.
// Block b of option o writes the sums of its paths' payoffs and squared payoffs to
// partial_sum[o*gridDim.x + b] and partial_sq[...]; the host adds the partials in a fixed order,
// so the result is the same from run to run.
extern "C" __global__ void barrier_option_philox(
    double *partial_sum,          // out: (options_in_launch, gridDim.x)
    double *partial_sq,           // out: (options_in_launch, gridDim.x)
    const float *X,               // (n_options, 6) row-major: K, B, S0, sigma, mu, r
    const unsigned int option_offset,  // row of X for blockIdx.y == 0
    const float T,
    const unsigned int n_steps,
    const unsigned int n_paths,
    const unsigned int key0,
    const unsigned int key1)
{
    const unsigned int option = option_offset + blockIdx.y;
    const float *x = X + 6ull * option;
    double sum = 0.0, sq = 0.0;
    for (unsigned long long path = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
         path < n_paths; path += (unsigned long long)gridDim.x * blockDim.x) {
        const double v = path_payoff(x[0], x[1], x[2], x[3], x[4], x[5], T, n_steps, key0, key1,
                                     option, (unsigned int)path);
        sum += v;
        sq += v * v;
    }
    sum = block_sum(sum);
    sq = block_sum(sq);
    if (threadIdx.x == 0) {
        partial_sum[(unsigned long long)blockIdx.y * gridDim.x + blockIdx.x] = sum;
        partial_sq[(unsigned long long)blockIdx.y * gridDim.x + blockIdx.x] = sq;
    }
}

// ---------------------------------------------------------------------------------------------
// Adjoint Greeks of the survival-conditioned estimator (helpers/mc/adjoint.py is the definition
// and the readable twin; tests/cuda_adjoint_harness.cu checks this code against it on the host).
// Double precision throughout, as the Python; the normal's quantile is Wichura's AS 241.
// ---------------------------------------------------------------------------------------------
#define ADJ_FAR 12.0            // beyond, survival is certain in double and its density 6e-33
#define ADJ_TAPE_COLUMNS 4      // s_n, S_n, Z_n, a_n per step

__host__ __device__ __forceinline__ double adj_norm_pdf(double x)
{
    return 0.3989422804014327 * exp(-0.5 * x * x);
}

__host__ __device__ __forceinline__ double adj_norm_cdf(double x)
{
    return 0.5 * erfc(-x * 0.7071067811865476);
}

__host__ __device__ double adj_norm_ppf(double p)
{
    const double q = p - 0.5;
    if (fabs(q) <= 0.425) {
        const double r = 0.180625 - q * q;
        const double num = ((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r
            + 6.7265770927008700853e4) * r + 4.5921953931549871457e4) * r
            + 1.3731693765509461125e4) * r + 1.9715909503065514427e3) * r
            + 1.3314166789178437745e2) * r + 3.3871328727963666080e0;
        const double den = ((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r
            + 3.9307895800092710610e4) * r + 2.1213794301586595867e4) * r
            + 5.3941960214247511077e3) * r + 6.8718700749205790830e2) * r
            + 4.2313330701600911252e1) * r + 1.0;
        return q * num / den;
    }
    double r = q < 0.0 ? p : 1.0 - p;
    if (r <= 0.0) return q < 0.0 ? -__builtin_inf() : __builtin_inf();
    r = sqrt(-log(r));
    double num, den;
    if (r <= 5.0) {
        r -= 1.6;
        num = ((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
            + 2.41780725177450611770e-1) * r + 1.27045825245236838258e0) * r
            + 3.64784832476320460504e0) * r + 5.76949722146069140550e0) * r
            + 4.63033784615654529590e0) * r + 1.42343711074968357734e0;
        den = ((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
            + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r
            + 6.89767334985100004550e-1) * r + 1.67638483018380384940e0) * r
            + 2.05319162663775882187e0) * r + 1.0;
    } else {
        r -= 5.0;
        num = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
            + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r
            + 2.96560571828504891230e-1) * r + 1.78482653991729133580e0) * r
            + 5.46378491116411436990e0) * r + 6.65790464350110377720e0;
        den = ((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
            + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r
            + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
            + 5.99832206555887937690e-1) * r + 1.0;
    }
    const double x = num / den;
    return q < 0.0 ? -x : x;
}

// One survival-conditioned path: forward sweep into `tape` (n_steps x 4 doubles), then the
// reverse sweep into grad[0..5] = d payoff / d (K, B, S0, sigma, mu, r) when `sweep` is set.
// Returns the discounted, weighted payoff. Mirrors helpers.mc.adjoint.survival_path line by line.
__host__ __device__ double survival_path(const double *x, double T, unsigned int n_steps,
                                         unsigned int key0, unsigned int key1,
                                         unsigned int option, unsigned int path,
                                         double *tape, double *grad, bool sweep)
{
    const double K = x[0], B = x[1], S0 = x[2], sigma = x[3], mu = x[4], r = x[5];
    const double dt = T / n_steps, c = 1.0 + mu * dt, sqrt_dt = sqrt(dt), vol = sigma * sqrt_dt;
    double s = S0, S = 0.0, log_weight = 0.0;
    for (int k = 0; k < 6; k++) grad[k] = 0.0;
    float normals[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (unsigned int n = 0; n < n_steps; n++) {
        if (n % 4 == 0) {  // the plain kernel's normals Z_0 of steps n..n+3
            const uint4_ w = philox4x32_10(uint4_{n / 4, path, option, 0u}, key0, key1);
            box_muller(w.x, w.y, normals[0], normals[1]);
            box_muller(w.z, w.w, normals[2], normals[3]);
        }
        const double normal = (double)normals[n % 4];
        const double g = s * vol, threshold = (n + 1.0) * B - S;
        double a, z;
        if (g > 0.0) {
            a = (threshold - s * c) / g;
            if (a < -ADJ_FAR) {  // survival certain: Z_0 itself
                z = normal;
            } else {
                const double p = adj_norm_cdf(-a);
                if (p == 0.0) return 0.0;
                const double v = adj_norm_cdf(-normal), v_c = adj_norm_cdf(normal);  // V = Phi(-Z_0)
                const double q = v * p, q_c = v_c + v * adj_norm_cdf(a);              // V p, 1 - V p
                z = q < 0.5 ? -adj_norm_ppf(q) : adj_norm_ppf(q_c);
                log_weight += log(p);
            }
        } else {
            if (!(s * c > threshold)) return 0.0;
            a = -__builtin_inf();
            z = 0.0;
        }
        double *row = tape + (size_t)ADJ_TAPE_COLUMNS * n;
        row[0] = s; row[1] = S; row[2] = z; row[3] = a;
        s = s * (c + vol * z);
        S += s;
    }
    const double excess = S / n_steps - K;
    if (excess <= 0.0) return 0.0;
    const double weight = exp(-r * T + log_weight), payoff = weight * excess;
    if (!sweep) return payoff;
    double s_bar = 0.0, S_bar = weight / n_steps, c_bar = 0.0, vol_bar = 0.0, B_bar = 0.0;
    const double log_weight_bar = payoff;
    for (int n = (int)n_steps - 1; n >= 0; n--) {
        const double *row = tape + (size_t)ADJ_TAPE_COLUMNS * n;
        const double sn = row[0], z = row[2], a = row[3];
        const double s_next_bar = s_bar + S_bar;
        s_bar = s_next_bar * (c + vol * z);
        c_bar += s_next_bar * sn;
        vol_bar += s_next_bar * sn * z;
        if (a >= -ADJ_FAR) {
            const double g = sn * vol, p = adj_norm_cdf(-a), v_p = adj_norm_cdf(-z);
            const double z_bar = s_next_bar * g;
            const double q_bar = -z_bar / adj_norm_pdf(z);
            const double p_bar = q_bar * v_p / p + log_weight_bar / p;
            const double a_bar = -p_bar * adj_norm_pdf(a);
            B_bar += a_bar * (n + 1.0) / g;
            S_bar -= a_bar / g;
            s_bar -= a_bar * (c / g + a / sn);
            c_bar -= a_bar / vol;
            vol_bar -= a_bar * a / vol;
        }
    }
    grad[0] = -weight;
    grad[1] = B_bar;
    grad[2] = s_bar;
    grad[3] = vol_bar * sqrt_dt;
    grad[4] = c_bar * dt;
    grad[5] = -T * payoff;
    return payoff;
}

#ifdef __CUDACC__
// Grid: (blocks_per_option, options_in_launch); each thread owns the tape slice
// tapes[thread * n_steps * 4 ...] and its own sums of the 8 outputs (price, 6 derivatives,
// gamma) and of their squares; the block adds its threads' sums (block_sum), and thread 0 writes
// them to partial[(option_row * gridDim.x + block) * 16 + k]: no two threads ever add to the
// same memory (the race of a naive adjoint reduction), and the host adds the partials in order.
extern "C" __global__ void barrier_option_survival_greeks(
    double *partial,               // out: (options_in_launch, gridDim.x, 16)
    double *tapes,                 // scratch: gridDim.x * gridDim.y * blockDim.x * n_steps * 4
    const double *X,               // (n_options, 6) row-major, float64
    const unsigned int option_offset,
    const double T,
    const unsigned int n_steps,
    const unsigned int n_paths,
    const unsigned int key0,
    const unsigned int key1,
    const double gamma_bump,       // relative bump of S0 for gamma; 0: no gamma
    const int sweep)               // 0: price only
{
    const unsigned int option = option_offset + blockIdx.y;
    const size_t thread = ((size_t)blockIdx.y * gridDim.x + blockIdx.x) * blockDim.x + threadIdx.x;
    double *tape = tapes + thread * (size_t)n_steps * ADJ_TAPE_COLUMNS;
    double x[6], grad[6], bumped[6];
    for (int k = 0; k < 6; k++) x[k] = X[6ull * option + k];
    const double S0 = x[2], h = S0 > 0.0 ? gamma_bump * S0 : gamma_bump;
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, acc_sq[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (unsigned long long path = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
         path < n_paths; path += (unsigned long long)gridDim.x * blockDim.x) {
        const double value = survival_path(x, T, n_steps, key0, key1, option,
                                           (unsigned int)path, tape, grad, sweep != 0);
        double gamma = 0.0;
        if (sweep && gamma_bump > 0.0) {
            for (int k = 0; k < 6; k++) bumped[k] = x[k];
            bumped[2] = S0 + h;
            double up[6];
            survival_path(bumped, T, n_steps, key0, key1, option, (unsigned int)path, tape, up,
                          true);
            bumped[2] = fmax(S0 - h, 0.0);
            double down[6];
            survival_path(bumped, T, n_steps, key0, key1, option, (unsigned int)path, tape, down,
                          true);
            gamma = (up[2] - down[2]) / (S0 + h - bumped[2]);
        }
        acc[0] += value;
        acc_sq[0] += value * value;
        for (int k = 0; k < 6; k++) {
            acc[1 + k] += grad[k];
            acc_sq[1 + k] += grad[k] * grad[k];
        }
        acc[7] += gamma;
        acc_sq[7] += gamma * gamma;
    }
    double *out = partial + ((size_t)blockIdx.y * gridDim.x + blockIdx.x) * 16;
    for (int k = 0; k < 8; k++) {
        const double total = block_sum(acc[k]);
        const double total_sq = block_sum(acc_sq[k]);
        if (threadIdx.x == 0) {
            out[k] = total;
            out[8 + k] = total_sq;
        }
    }
}
#endif
