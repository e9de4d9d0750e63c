// Host harness for the device functions of helpers/kernels/barrier_option.cu (no GPU needed).
// Reads lines "K B S0 sigma mu r T n_steps key0 key1 option path" from stdin and prints the
// discounted payoff that path_payoff computes for each.
#include <cstdio>
#include "../helpers/kernels/barrier_option.cu"

int main()
{
    float K, B, S0, sigma, mu, r, T;
    unsigned int n_steps, key0, key1, option, path;
    while (std::scanf("%f %f %f %f %f %f %f %u %u %u %u %u", &K, &B, &S0, &sigma, &mu, &r, &T,
                      &n_steps, &key0, &key1, &option, &path) == 12) {
        std::printf("%.9g\n", path_payoff(K, B, S0, sigma, mu, r, T, n_steps, key0, key1, option, path));
    }
    return 0;
}
