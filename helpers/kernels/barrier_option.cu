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
// Philox4x32-10 (Salmon et al., SC'11), and Box-Muller as helpers/mc/philox.py computes it.
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

__host__ __device__ __forceinline__ void box_muller(unsigned int x0, unsigned int x1, float &za, float &zb)
{
    const float u1 = (float)(((double)x0 + 0.5) * 2.3283064365386963e-10);  // (0, 1]
    const float u2 = (float)((double)x1 * 2.3283064365386963e-10);          // [0, 1]
    const float radius = sqrtf(-2.0f * logf(u1));
    const float c = cosf(6.2831853071795865f * u2);
    float sine = sqrtf(fmaxf(1.0f - c * c, 0.0f));
    if (u2 > 0.5f) sine = -sine;
    za = radius * c;
    zb = radius * sine;
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
