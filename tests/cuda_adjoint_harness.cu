// Host harness for survival_path of helpers/kernels/barrier_option.cu (no GPU needed).
// Reads lines "K B S0 sigma mu r T n_steps key0 key1 option path" from stdin and prints the
// payoff and its six derivatives (K, B, S0, sigma, mu, r) that the CUDA C adjoint computes.
#include <cstdio>
#include <vector>
#include "../helpers/kernels/barrier_option.cu"

int main()
{
    double x[6], T, grad[6];
    unsigned int n_steps, key0, key1, option, path;
    while (std::scanf("%lf %lf %lf %lf %lf %lf %lf %u %u %u %u %u", &x[0], &x[1], &x[2], &x[3],
                      &x[4], &x[5], &T, &n_steps, &key0, &key1, &option, &path) == 12) {
        std::vector<double> tape((size_t)n_steps * ADJ_TAPE_COLUMNS);
        const double payoff = survival_path(x, T, n_steps, key0, key1, option, path, tape.data(),
                                            grad, true);
        std::printf("%.17g", payoff);
        for (int k = 0; k < 6; k++) std::printf(" %.17g", grad[k]);
        std::printf("\n");
    }
    return 0;
}
