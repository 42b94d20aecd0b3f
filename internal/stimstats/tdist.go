package stimstats

import "math"

// tQuantile returns the p-quantile of Student's t distribution with df
// degrees of freedom, for any real df > 0: Welch's degrees of freedom are
// not whole numbers, so a table by integer df would not do. It returns
// NaN outside 0 < p < 1 or df > 0.
//
// df 1 and 2 have closed forms (Cauchy; Abramowitz and Stegun 26.7.4 for
// df 2). Large df use the Cornish-Fisher expansion of A&S 26.7.5, whose
// first omitted term is of order df^-5, below 1e-13 from df 1000 on, where
// the exact route would lose digits to the difference of two large
// log-gamma values. Between, Newton's method solves tail(t) = 1-p on the
// exact tail given by the regularised incomplete beta function.
func tQuantile(p, df float64) float64 {
	switch {
	case !(p > 0 && p < 1) || !(df > 0):
		return math.NaN()
	case p == 0.5:
		return 0
	case p < 0.5:
		return -tQuantile(1-p, df)
	case df == 1:
		return math.Tan(math.Pi * (p - 0.5))
	case df == 2:
		return (2*p - 1) / math.Sqrt(2*p*(1-p))
	case df >= 1000:
		return cornishFisher(normalQuantile(p), df)
	}
	q := 1 - p
	// The normal quantile lies below every t quantile for p > 1/2, and the
	// upper tail is convex for t > 0, so Newton's steps from there rise
	// monotonically to the root and never overshoot it.
	t := normalQuantile(p)
	for range 200 {
		step := (tTail(t, df) - q) / tDensity(t, df)
		t += step
		if math.Abs(step) <= 1e-13*t {
			break
		}
	}
	return t
}

// normalQuantile is the p-quantile of the standard normal distribution.
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

// cornishFisher expands the t quantile around the normal quantile z
// (Abramowitz and Stegun 26.7.5).
func cornishFisher(z, df float64) float64 {
	z2 := z * z
	g1 := z * (z2 + 1) / 4
	g2 := z * ((5*z2+16)*z2 + 3) / 96
	g3 := z * (((3*z2+19)*z2+17)*z2 - 15) / 384
	g4 := z * ((((79*z2+776)*z2+1482)*z2-1920)*z2 - 945) / 92160
	return z + (g1+(g2+(g3+g4/df)/df)/df)/df
}

// tTail is P(T > t) for t >= 0: half the regularised incomplete beta
// I_x(df/2, 1/2) at x = df/(df+t²). Both x and 1-x are passed, each
// computed without subtraction, so that neither loses digits.
func tTail(t, df float64) float64 {
	t2 := t * t
	return betaReg(df/2, 0.5, df/(df+t2), t2/(df+t2)) / 2
}

// tDensity is the density of Student's t at t.
func tDensity(t, df float64) float64 {
	la, _ := math.Lgamma((df + 1) / 2)
	lb, _ := math.Lgamma(df / 2)
	return math.Exp(la - lb - 0.5*math.Log(df*math.Pi) - (df+1)/2*math.Log1p(t*t/df))
}

// betaReg is the regularised incomplete beta function I_x(a, b), with
// y = 1-x given by the caller. It evaluates the continued fraction where
// it converges fast and the symmetry I_x(a,b) = 1 - I_y(b,a) elsewhere
// (Numerical Recipes, 3rd ed., section 6.4).
func betaReg(a, b, x, y float64) float64 {
	switch {
	case x <= 0:
		return 0
	case y <= 0:
		return 1
	}
	lab, _ := math.Lgamma(a + b)
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log(y))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, y)/b
}

// betaCF evaluates the continued fraction of the incomplete beta function
// by the modified Lentz method (Numerical Recipes, 3rd ed., 6.4 and 5.2).
func betaCF(a, b, x float64) float64 {
	const tiny = 1e-300
	guard := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1/guard(1-qab*x/qap)
	h := d
	for m := 1.0; m <= 10000; m++ {
		m2 := 2 * m
		aa := m * (b - m) * x / ((qam + m2) * (a + m2))
		d = 1 / guard(1+aa*d)
		c = guard(1 + aa/c)
		h *= d * c
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
		d = 1 / guard(1+aa*d)
		c = guard(1 + aa/c)
		del := d * c
		h *= del
		if math.Abs(del-1) <= 4e-16 { // a couple of ulps: exact 1 may never come
			break
		}
	}
	return h
}
