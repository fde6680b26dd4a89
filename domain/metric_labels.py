"""What each metric of the contract (``domain.metrics``) is called on a form or a page:
Vietnamese as a commune officer's report names it, and English."""

from __future__ import annotations

LABELS: dict[str, tuple[str, str]] = {
    "population": ("Dân số (người)", "Population"),
    "on_trafficking_route": ("Nằm trên tuyến, địa bàn trọng điểm về ma túy",
                             "On a key trafficking route"),
    "addicts_total": ("Người nghiện có hồ sơ quản lý", "Managed addicts"),
    "addicts_with_records": ("Người nghiện được lập hồ sơ, danh sách quản lý",
                             "Addicts with management records"),
    "addicts_in_treatment": ("Người nghiện đang cai nghiện, điều trị", "Addicts in treatment"),
    "addicts_in_community": ("Người nghiện đang ở cộng đồng", "Addicts living in the community"),
    "addicts_negative_test_30d": ("Người nghiện xét nghiệm âm tính trong 30 ngày",
                                  "Addicts testing negative (30 days)"),
    "users_total": ("Người sử dụng trái phép chất ma túy", "Illicit users"),
    "users_with_records": ("Người sử dụng trái phép được lập hồ sơ quản lý",
                           "Illicit users with records"),
    "users_negative_test_30d": ("Người sử dụng trái phép xét nghiệm âm tính trong 30 ngày",
                                "Illicit users testing negative (30 days)"),
    "psychosis_cases": ("Trường hợp loạn thần do sử dụng ma túy (\"ngáo đá\")",
                        "Drug-induced psychosis cases"),
    "suspects_total": ("Người có căn cứ nghi sử dụng trái phép", "Persons suspected of use"),
    "suspects_tested": ("Người nghi sử dụng đã được xét nghiệm", "Suspected users tested"),
    "post_rehab_total": ("Người sau cai nghiện", "Post-rehabilitation persons"),
    "post_rehab_with_records": ("Người sau cai được lập hồ sơ quản lý",
                                "Post-rehab persons with records"),
    "post_rehab_tested": ("Người sau cai đã được xét nghiệm", "Post-rehab persons tested"),
    "baseline_addicts": ("Người nghiện khi đưa vào xây dựng", "Addicts at the start"),
    "baseline_users": ("Người sử dụng trái phép khi đưa vào xây dựng",
                       "Illicit users at the start"),
    "hotspots": ("Tụ điểm, điểm phức tạp về ma túy", "Drug hotspots"),
    "drug_rings": ("Ổ nhóm, đường dây mua bán ma túy", "Drug rings"),
    "risk_points": ("Điểm có nguy cơ phát sinh tệ nạn ma túy", "Risk points"),
    "drug_plants": ("Cây có chứa chất ma túy phát hiện", "Drug plants found"),
    "drug_plant_area_m2": ("Diện tích trồng cây có chứa chất ma túy (m²)",
                           "Area of drug plants (m²)"),
    "illicit_production_cases": ("Vụ sản xuất trái phép chất ma túy",
                                 "Illicit production cases"),
    "drug_offenders": ("Đối tượng phạm tội về ma túy", "Drug offenders"),
    "drug_crimes_by_residents": ("Vụ phạm tội về ma túy do người địa phương thực hiện",
                                 "Drug crimes by residents"),
    "violators_detected": ("Người vi phạm pháp luật về ma túy bị phát hiện",
                           "Violators detected"),
    "violators_handled": ("Người vi phạm đã được xử lý", "Violators handled"),
    "resident_offenders": ("Người địa phương phạm tội về ma túy", "Resident offenders"),
    "resident_offenders_arrested": ("Người địa phương phạm tội đã bị bắt giữ",
                                    "Resident offenders arrested"),
    "wanted_in_area": ("Đối tượng truy nã về ma túy trên địa bàn", "Wanted persons in the area"),
    "wanted_arrested": ("Đối tượng truy nã đã bị bắt", "Wanted persons arrested"),
    "serious_incidents_by_users": ("Vụ việc nghiêm trọng do người sử dụng ma túy gây ra",
                                   "Serious incidents by users"),
    "relapse_crimes": ("Vụ tái phạm tội về ma túy", "Repeat drug crimes"),
    "households_total": ("Tổng số hộ gia đình", "Households"),
    "households_committed": ("Hộ gia đình ký cam kết không vi phạm về ma túy",
                             "Households that signed the commitment"),
    "hamlets_total": ("Tổng số ấp, khóm, thôn", "Hamlets"),
    "hamlets_with_hotline_board": ("Ấp, khóm, thôn có bảng đường dây nóng",
                                   "Hamlets with a hotline board"),
    "prevention_models": ("Mô hình phòng, chống ma túy", "Prevention models"),
}


def label(field: str, lang: str = "vi") -> str:
    """A metric's name in ``lang``; the field's own name when it has none."""
    vi, en = LABELS.get(field, (field, field))
    return en if lang == "en" else vi
