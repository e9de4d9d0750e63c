// Host harness for box_muller of helpers/kernels/barrier_option.cu (no GPU needed).
// Reads lines "x0 x1" (two 32-bit words) from stdin and prints the two normals for each.
#include <cstdio>
#include "../helpers/kernels/barrier_option.cu"

int main()
{
    unsigned int x0, x1;
    while (std::scanf("%u %u", &x0, &x1) == 2) {
        float za, zb;
        box_muller(x0, x1, za, zb);
        std::printf("%.9g %.9g\n", za, zb);
    }
    return 0;
}
