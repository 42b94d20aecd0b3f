package stimstats

import (
	"math"
	"testing"
)

// TestTQuantileTable checks the 97.5 % quantile (two-sided 95 %) against
// the printed table of critical values of Student's t in the NIST/SEMATECH
// e-Handbook of Statistical Methods, section 1.3.6.7.2, which gives three
// decimals.
func TestTQuantileTable(t *testing.T) {
	cases := []struct {
		df, want float64
	}{
		{1, 12.706}, {2, 4.303}, {3, 3.182}, {4, 2.776}, {5, 2.571},
		{10, 2.228}, {20, 2.086}, {30, 2.042}, {100, 1.984}, {math.Inf(1), 1.960},
	}
	for _, c := range cases {
		if got := tQuantile(0.975, c.df); math.Abs(got-c.want) > 5e-4 {
			t.Errorf("t(0.975, %v) = %.6f, want %.3f", c.df, got, c.want)
		}
	}
}

// TestTQuantileClosedForms checks quantiles to machine precision where
// the distribution function has a closed form: Abramowitz and Stegun
// 26.7.3 give A(t|ν) = P(|T| <= t) for whole ν as a finite sum (studentA
// below), so the 97.5 % quantile must have A = 0.95. This checks the
// incomplete beta route by a different formula.
func TestTQuantileClosedForms(t *testing.T) {
	for nu := 1; nu <= 40; nu++ {
		q := tQuantile(0.975, float64(nu))
		if a := studentA(q, nu); math.Abs(a-0.95) > 1e-14 {
			t.Errorf("A(t(0.975, %d) = %.17g) = %.17g, want 0.95", nu, q, a)
		}
	}
	// Exact values to compare digits with: df 1 is the Cauchy distribution,
	// tan(0.475 π); df 2 has t = (2p-1)/sqrt(2p(1-p)) = 0.95/sqrt(0.04875).
	if got, want := tQuantile(0.975, 1), 12.706204736174698; math.Abs(got-want) > 1e-12 {
		t.Errorf("t(0.975, 1) = %.17g, want %.17g", got, want)
	}
	if got, want := tQuantile(0.975, 2), 4.302652729749464; math.Abs(got-want) > 1e-12 {
		t.Errorf("t(0.975, 2) = %.17g, want %.17g", got, want)
	}
	if got, want := tQuantile(0.975, math.Inf(1)), 1.959963984540054; math.Abs(got-want) > 1e-12 {
		t.Errorf("t(0.975, inf) = %.17g, want %.17g", got, want)
	}
}

// studentA is A(t|ν) = P(|T| <= t) by Abramowitz and Stegun 26.7.3, with
// θ = atan(t/√ν): for odd ν, (2/π)(θ + sinθ(cosθ + (2/3)cos³θ + ... +
// (2·4···(ν-3))/(1·3···(ν-2)) cos^(ν-2)θ)), and 2θ/π for ν = 1; for even
// ν, sinθ(1 + (1/2)cos²θ + (1·3)/(2·4)cos⁴θ + ... + (1·3···(ν-3))/(2·4···(ν-2)) cos^(ν-2)θ).
func studentA(t float64, nu int) float64 {
	th := math.Atan(t / math.Sqrt(float64(nu)))
	s, c := math.Sincos(th)
	c2 := c * c
	if nu%2 == 0 {
		term, sum := 1.0, 1.0
		for k := 1; k < nu/2; k++ {
			term *= float64(2*k-1) / float64(2*k) * c2
			sum += term
		}
		return s * sum
	}
	if nu == 1 {
		return 2 * th / math.Pi
	}
	term, sum := c, c
	for k := 1; k < (nu-1)/2; k++ {
		term *= float64(2*k) / float64(2*k+1) * c2
		sum += term
	}
	return 2 / math.Pi * (th + s*sum)
}

// TestTQuantileRealDF checks degrees of freedom that are not whole, as
// Welch's are, by integrating the density from 0 to the quantile with
// Simpson's rule: the integral must be 0.475. The density is the textbook
// formula, independent of the incomplete beta function.
func TestTQuantileRealDF(t *testing.T) {
	for _, df := range []float64{0.5, 1.5, 2.5, 49.0 / 17, 9.7, 17.776, 250.5, 999.5} {
		q := tQuantile(0.975, df)
		if got := simpson(func(x float64) float64 { return tDensity(x, df) }, 0, q, 20000); math.Abs(got-0.475) > 1e-12 {
			t.Errorf("integral of the t(%v) density to %.17g = %.17g, want 0.475", df, q, got)
		}
	}
}

// simpson integrates f over [a, b] with n (even) intervals.
func simpson(f func(float64) float64, a, b float64, n int) float64 {
	h := (b - a) / float64(n)
	sum := f(a) + f(b)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		sum += w * f(a+float64(i)*h)
	}
	return sum * h / 3
}

// TestTQuantileShape checks what any t quantile must do: symmetry, the
// median at 0, a fall towards the normal quantile as df grows with no
// jump where the large-df expansion takes over, and NaN outside the domain.
func TestTQuantileShape(t *testing.T) {
	if got := tQuantile(0.025, 7); got != -tQuantile(0.975, 7) {
		t.Errorf("t(0.025, 7) = %v, want -t(0.975, 7)", got)
	}
	if got := tQuantile(0.5, 3); got != 0 {
		t.Errorf("t(0.5, 3) = %v, want 0", got)
	}
	prev := math.Inf(1)
	for df := 0.25; df < 5000; df *= 1.01 {
		q := tQuantile(0.975, df)
		if !(q < prev) || !(q > 1.959963984540054) {
			t.Fatalf("t(0.975, %v) = %v after %v: not falling towards 1.96", df, q, prev)
		}
		prev = q
	}
	// Either side of the switch to Cornish-Fisher at df 1000: the quantile's
	// slope there is about -2.4e-6 per unit of df.
	if d := tQuantile(0.975, 999.999999) - tQuantile(0.975, 1000); math.Abs(d) > 1e-11 {
		t.Errorf("jump of %v at df 1000", d)
	}
	for _, c := range [][2]float64{{0, 5}, {1, 5}, {0.975, 0}, {0.975, -1}, {math.NaN(), 5}, {0.975, math.NaN()}} {
		if got := tQuantile(c[0], c[1]); !math.IsNaN(got) {
			t.Errorf("t(%v, %v) = %v, want NaN", c[0], c[1], got)
		}
	}
}
