//! Spherical (Hertzian) contact and the critical shear stress at the first pop-in (docs/physics.md).

/// The Hertzian indentation depth beyond contact, in nm, under load `load_un` (µN):
/// P = (4/3) E_r sqrt(R) h^(3/2).
pub fn hertz_depth_nm(load_un: f64, er_gpa: f64, tip_radius_nm: f64) -> f64 {
    if load_un <= 0.0 {
        return 0.0;
    }
    // In SI: P [N], E_r [Pa], R [m] give h [m].
    let p = load_un * 1e-6;
    let e = er_gpa * 1e9;
    let r = tip_radius_nm * 1e-9;
    (3.0 * p / (4.0 * e * r.sqrt())).powf(2.0 / 3.0) * 1e9
}

/// The Hertzian load in µN at depth `depth_nm` beyond contact.
pub fn hertz_load_un(depth_nm: f64, er_gpa: f64, tip_radius_nm: f64) -> f64 {
    if depth_nm <= 0.0 {
        return 0.0;
    }
    let h = depth_nm * 1e-9;
    4.0 / 3.0 * er_gpa * 1e9 * (tip_radius_nm * 1e-9).sqrt() * h.powf(1.5) * 1e6
}

/// tau_c = 0.31 (6 E_r^2 P / (pi^3 R^2))^(1/3), with E_r in GPa, P in mN and R in µm giving GPa.
pub fn tau_c_gpa(er_gpa: f64, popin_load_un: f64, tip_radius_nm: f64) -> f64 {
    let p_mn = popin_load_un * 1e-3;
    let r_um = tip_radius_nm * 1e-3;
    0.31 * (6.0 * er_gpa * er_gpa * p_mn / (std::f64::consts::PI.powi(3) * r_um * r_um)).cbrt()
}

/// The pop-in load (µN) at which the critical shear stress is `tau_c_gpa` (inverse of [`tau_c_gpa`]).
pub fn popin_load_un(tau_c_gpa: f64, er_gpa: f64, tip_radius_nm: f64) -> f64 {
    let r_um = tip_radius_nm * 1e-3;
    (tau_c_gpa / 0.31).powi(3) * std::f64::consts::PI.powi(3) * r_um * r_um
        / (6.0 * er_gpa * er_gpa)
        * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_check_value() {
        // docs/physics.md: E_r = 100 GPa, R = 0.36 µm, P = 0.150 mN gives 4.0559 GPa.
        assert!((tau_c_gpa(100.0, 150.0, 360.0) - 4.0559).abs() < 1e-4);
        assert!((popin_load_un(tau_c_gpa(100.0, 150.0, 360.0), 100.0, 360.0) - 150.0).abs() < 1e-9);
    }

    #[test]
    fn hertz_inverts() {
        let h = hertz_depth_nm(150.0, 100.0, 360.0);
        assert!((h - 15.2).abs() < 0.1, "{h}");
        assert!((hertz_load_un(h, 100.0, 360.0) - 150.0).abs() < 1e-9);
    }
}
