"""Cangzhou's county-level areas: division codes, streets and towns, and their typical industries."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Area:
    """A district, county or county-level city of Cangzhou (沧州市)."""

    name: str  # 运河区
    division: str  # administrative division code (GB/T 2260): positions 3-8 of a credit code
    prefix: str  # how its enterprises' names begin: 沧州 for the districts, else the area itself
    towns: tuple[str, ...]  # streets (街道), towns (镇) and townships (乡)
    industries: tuple[str, ...]  # what its enterprises make or do


# name, division code, name prefix of its enterprises
_AREAS = """
新华区 130902 沧州
运河区 130903 沧州
沧县 130921 沧县
青县 130922 青县
东光县 130923 东光县
海兴县 130924 海兴县
盐山县 130925 盐山县
肃宁县 130926 肃宁县
南皮县 130927 南皮县
吴桥县 130928 吴桥县
献县 130929 献县
孟村回族自治县 130930 孟村
泊头市 130981 泊头市
任丘市 130982 任丘市
黄骅市 130983 黄骅市
河间市 130984 河间市
"""
_TOWNS = """
新华区: 车站街道 南大道街道 建设北街街道 西环街道 东环街道 道东街道 小赵庄乡
运河区: 水月寺街道 南环中路街道 西环中路街道 市场街道 公园街道 南湖街道 小王庄镇
沧县: 旧州镇 兴济镇 杜生镇 崔尔庄镇 薛官屯乡 捷地回族乡 风化店乡
青县: 清州镇 金牛镇 新兴镇 流河镇 木门店镇 马厂镇 盘古镇
东光县: 东光镇 连镇镇 找王镇 秦村镇 灯明寺镇 南霞口镇 大单镇
海兴县: 苏基镇 辛集镇 高湾镇 赵毛陶镇 香坊乡 小山乡
盐山县: 盐山镇 千童镇 圣佛镇 望树镇 庆云镇 韩集镇
肃宁县: 肃宁镇 梁家村镇 窝北镇 尚村镇 万里镇 付家佐乡
南皮县: 南皮镇 冯家口镇 寨子镇 鲍官屯镇 王寺镇 乌马营镇
吴桥县: 桑园镇 铁城镇 于集镇 梁集镇 安陵镇 曹家洼乡
献县: 乐寿镇 淮镇镇 郭庄镇 河城街镇 韩村镇 陌南镇 陈庄镇
孟村回族自治县: 孟村镇 新县镇 辛店镇 高寨镇 宋庄子乡 牛进庄乡
泊头市: 解放街道 河东街道 古楼街道 交河镇 齐桥镇 富镇镇 郝村镇
任丘市: 新华路街道 西环路街道 永丰路街道 出岸镇 石门桥镇 鄚州镇 青塔乡
黄骅市: 骅中街道 骅东街道 骅西街道 旧城镇 南排河镇 吕桥镇 羊二庄镇
河间市: 瀛州镇 米各庄镇 沙河桥镇 诗经村乡 卧佛堂镇 景和镇 西九吉乡
"""
_INDUSTRIES = """
新华区: 化工 商贸 物流 科技 建材
运河区: 商贸 房地产开发 科技 餐饮管理 物业服务
沧县: 红枣食品 化工 铸造 管道
青县: 红木家具 电子机箱 蔬菜种植
东光县: 纸箱包装机械 塑料制品 化工
海兴县: 盐化 光伏发电 水产养殖
盐山县: 管道装备 管件 机械制造
肃宁县: 裘皮服饰 针纺织品 皮毛
南皮县: 五金机电 小五金 汽车配件
吴桥县: 杂技文化旅游 机械配件 建材
献县: 食品 纺织 电动车
孟村回族自治县: 弯头管件 管道装备 清真食品
泊头市: 铸造 汽车模具 环保设备
任丘市: 石油化工 仪器仪表 机械制造
黄骅市: 汽车零部件 港口物流 冬枣种植
河间市: 保温材料 汽车零部件再制造 工艺玻璃
"""


def _lists(table: str) -> dict[str, tuple[str, ...]]:
    rows = (line.split(":") for line in table.strip().splitlines())
    return {name: tuple(words.split()) for name, words in rows}


def _areas() -> dict[str, Area]:
    towns, industries = _lists(_TOWNS), _lists(_INDUSTRIES)
    rows = (line.split() for line in _AREAS.strip().splitlines())
    return {name: Area(name, code, prefix, towns[name], industries[name]) for name, code, prefix in rows}


AREAS = _areas()
CITY_CENTRE = ("新华区", "运河区")  # where the intermediate court's officers mostly live and serve

# Public places for volunteer teams and legal publicity, city-wide and in every area.
CITY_VENUES = ("沧州市人民公园", "沧州市狮城公园", "沧州市图书馆", "沧州市博物馆广场", "沧州市体育场")
AREA_VENUES = ("文化广场", "新时代文明实践中心", "敬老院", "中心小学", "便民服务中心")

# Trade names (字号) for enterprise names.
TRADE_NAMES = tuple(
    "恒达 鑫源 华信 盛通 宏达 金泰 永盛 润丰 博远 天成 瑞祥 海川 诚信 东方 利民 安泰 聚德 新元 "
    "嘉禾 亿通 万隆 广源 兴业 德润 长城 恒通 富华 裕丰 正泰 北方 华宇 金鼎 汇通 顺达 宏图 泰和".split()
)
COMPANY_FORMS = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")
