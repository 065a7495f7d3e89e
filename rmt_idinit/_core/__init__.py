"""Private core shared by the numerics: parameter checks, numba kernels, Gaussian moments, and the
package's warning classes. Nothing here is public API; the public names live one level up."""
