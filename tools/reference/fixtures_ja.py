"""Japanese kanji -> hiragana: the full reference's `hiragana_normalize` (pykakasi 2.3.0) on a test set.

* ja_kana: 141 Japanese sentences written for this test (news-like, conversational, names, numbers,
  dates, mixed kana/kanji/Latin, classical lines, readings that need context such as 今日/上手/生) run
  through the reference's multilingual front end up to the Japanese step: `punc_norm`, lower-case +
  NFKD (`MTLTokenizer.preprocess_text`), then `hiragana_normalize` with pykakasi. The port's
  IPADIC-based conversion is measured against it (sentences identical, character error rate); the
  test asserts the agreement measured when the fixture was made does not drop.

pykakasi is GPL: only its output on these sentences is recorded here, none of its code or data.
"""

import json
import logging
from importlib.metadata import version

from chatterbox.mtl_tts import punc_norm as punc_norm_mtl
from chatterbox.models.tokenizers import tokenizer as tokmod

logging.getLogger(tokmod.__name__).setLevel(logging.ERROR)

SENTENCES = [
    '日本語のテキストです。',
    '私は学生です。',
    '今日は良い天気ですね！',
    'カタカナとひらがな、漢字。',
    '東京は日本の首都です。',
    '明日の天気予報によると、午後から雨が降るそうです。',
    '昨日、友達と一緒に映画を見に行きました。',
    'この本はとても面白かったです。',
    '駅までどのくらいかかりますか？',
    'すみません、トイレはどこですか。',
    '政府は新しい経済対策を発表しました。',
    '首相は記者会見で増税について説明した。',
    '今年の夏は例年より暑くなる見込みです。',
    '株価は三日連続で上昇しました。',
    '台風十号が九州に接近しています。',
    '大阪の人口はおよそ八百八十万人です。',
    '新幹線で名古屋から京都へ向かいます。',
    '彼女は毎朝六時に起きて、公園を散歩します。',
    '子供たちが元気に遊んでいる。',
    'お腹が空いたので、何か食べに行こう。',
    'この問題は思ったより難しい。',
    '先生に質問してもいいですか？',
    '会議は午前十時から始まります。',
    '私の名前は田中太郎です。',
    '山田さんは会社員です。',
    '鈴木一郎選手がホームランを打った。',
    '佐藤さんと高橋さんは同じ大学の出身です。',
    '夏目漱石の小説を読んでいます。',
    '富士山は日本で一番高い山です。',
    '北海道の冬はとても寒いです。',
    '沖縄の海は青くて美しい。',
    '電車が遅れているので、少し遅刻します。',
    'コンビニでお弁当とお茶を買いました。',
    'スマートフォンの電池がすぐになくなる。',
    'インターネットで情報を調べてください。',
    '来週の月曜日に歯医者の予約があります。',
    'お誕生日おめでとうございます。',
    'よろしくお願いいたします。',
    'ありがとうございました。またお越しください。',
    '彼は静かに部屋を出て行った。',
    '窓を開けてもいいですか。',
    '猫が机の上で寝ている。',
    '犬の散歩に行ってきます。',
    '雨が止んだら、外に出かけましょう。',
    '桜の花が満開になりました。',
    '秋になると紅葉がきれいです。',
    '雪が積もって道が滑りやすい。',
    '彼の話を信じるかどうかは、あなた次第です。',
    '図書館で勉強するのが好きです。',
    '日曜日は家でゆっくり休みます。',
    '価格は税込みで三千五百円です。',
    '二〇二四年四月一日に法律が施行された。',
    'この部屋は二階の奥にあります。',
    '一人で旅行するのは初めてです。',
    '二人の兄弟はよく似ている。',
    '百円ショップで文房具を買った。',
    '気温は三十五度まで上がりました。',
    '約束の時間に間に合わなかった。',
    '医者は患者に薬を飲むように言った。',
    '病院の受付は何時までですか？',
    'この料理は辛すぎて食べられない。',
    '母が作った味噌汁は美味しい。',
    '父は銀行で働いています。',
    '祖母は田舎で野菜を育てている。',
    '弟はサッカー部に入っている。',
    '姉は来月結婚する予定です。',
    '地震の後、多くの人が避難所に集まった。',
    '警察は事件の詳しい原因を調べている。',
    '研究チームは新しい技術を開発した。',
    '人工知能の発展は社会に大きな影響を与える。',
    '環境問題について話し合いましょう。',
    'この映画は世界中で大ヒットした。',
    '音楽を聴きながら料理を作るのが好きです。',
    'ピアノの練習を毎日続けています。',
    '日本の伝統文化に興味があります。',
    '京都にはたくさんの寺や神社があります。',
    'お正月には家族が集まります。',
    '夏休みに海外旅行に行く予定です。',
    '空港までタクシーで行きましょう。',
    '飛行機は定刻通りに到着した。',
    '荷物が重いので手伝ってください。',
    'ちょっと待ってください。',
    '本当にそう思いますか？',
    'それは良い考えですね。',
    '大丈夫、心配しないで。',
    '何を言っているのか分からない。',
    'もう一度説明していただけますか。',
    '彼女の笑顔はとても素敵だ。',
    '時間があれば、また遊びに来てね。',
    'お客様、こちらへどうぞ。',
    'ご注文はお決まりですか？',
    '会計は別々でお願いします。',
    '明後日は祝日なので学校は休みです。',
    '東京駅から徒歩五分のところにホテルがあります。',
    '右に曲がって、まっすぐ進んでください。',
    '私たちは長い間待っていた。',
    '彼は英語と中国語を話すことができる。',
    '日本語を勉強して三年になります。',
    '漢字を覚えるのは大変です。',
    '子どもの頃、よく川で泳いだ。',
    'この町は昔から変わらない。',
    '新しい生活が始まる。',
    '自分の夢を諦めないでください。',
    '努力すれば必ず報われる。',
    '失敗は成功のもとだ。',
    '春眠暁を覚えず。',
    '吾輩は猫である。名前はまだ無い。',
    '国境の長いトンネルを抜けると雪国であった。',
    '朝ご飯を食べましたか？',
    '今夜は星がきれいに見える。',
    '風が強くなってきた。',
    '天気が悪いので、試合は中止になった。',
    '選挙の投票率は前回を下回った。',
    '円安が進み、輸入品の価格が上がっている。',
    '日本銀行は金利を据え置いた。',
    '新型コロナウイルスの感染者数が減少している。',
    'オリンピックの開会式は国立競技場で行われた。',
    '東日本大震災から十年が経った。',
    'AIとロボットの技術が急速に進歩している。',
    'NHKのニュースによると、渋滞が発生しています。',
    'Wi-Fiのパスワードを教えてください。',
    '第3章を読んでおいてください。',
    '午後3時に渋谷で会いましょう。',
    '「はい」と彼は答えた。',
    'えっ、本当？信じられない！',
    'うわー、すごい景色だね。',
    'へえ、そうなんだ。',
    'はい、分かりました。',
    '今日は、皆さん。',
    '東へ行けば海がある。',
    '母は毎日花に水をやる。',
    '春は曙。やうやう白くなりゆく山際。',
    '行った、来た、見た、勝った。',
    '上手に話せるようになりたい。',
    '生まれた場所と生きる場所。',
    '生ビールを二つください。',
    '上の階に住んでいる人は優しい。',
    '下町の商店街を歩く。',
    '大人になったら何になりたい？',
    '今朝、七時半に家を出た。',
    '一日中雨が降っていた。',
]


def ja_kana(rng, out, seed):
    import pykakasi

    tokmod._kakasi = pykakasi.kakasi()
    mtl = tokmod.MTLTokenizer.__new__(tokmod.MTLTokenizer)
    cases = []
    for text in SENTENCES:
        norm = punc_norm_mtl(text)
        pre = mtl.preprocess_text(norm)  # lower-case + NFKD, as `MTLTokenizer.encode`
        cases.append({"input": text, "normalized": norm, "hiragana": tokmod.hiragana_normalize(pre)})
    (out / "ja_kana.json").write_text(
        json.dumps({"pykakasi": version("pykakasi"), "cases": cases}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )


FIXTURES = [ja_kana]
