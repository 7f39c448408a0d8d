/**
 * The time-zone names Intl accepts and gives back under another name (Asia/Kolkata is Asia/Calcutta to it, US/Eastern
 * America/New_York), each with the name Intl gives: Intl.DateTimeFormat's resolvedOptions().timeZone in Node 20.20
 * and 24.21 (the same answers), for every zone name of the tz database on Debian 12. A machine whose zone is set
 * under one of these names is named as Intl would name it without loading ICU's data (src/schedule/localZone.ts;
 * its schedules are stored under that name, so the spelling must be Intl's exactly). A name not here and not
 * canonical is asked of Intl. test/schedule/localZone.test.ts checks every entry against the running Node's Intl.
 */
export const ZONE_ALIASES: ReadonlyMap<string, string> = new Map((
  'Africa/Asmara=Africa/Asmera Africa/Timbuktu=Africa/Bamako America/Argentina/Buenos_Aires=America/Buenos_Aires ' +
  'America/Argentina/Catamarca=America/Catamarca America/Argentina/ComodRivadavia=America/Catamarca ' +
  'America/Argentina/Cordoba=America/Cordoba America/Argentina/Jujuy=America/Jujuy ' +
  'America/Argentina/Mendoza=America/Mendoza America/Atikokan=America/Coral_Harbour America/Atka=America/Adak ' +
  'America/Ensenada=America/Tijuana America/Fort_Wayne=America/Indianapolis ' +
  'America/Indiana/Indianapolis=America/Indianapolis America/Kentucky/Louisville=America/Louisville ' +
  'America/Knox_IN=America/Indiana/Knox America/Montreal=America/Toronto America/Nipigon=America/Toronto ' +
  'America/Nuuk=America/Godthab America/Pangnirtung=America/Iqaluit America/Porto_Acre=America/Rio_Branco ' +
  'America/Rainy_River=America/Winnipeg America/Rosario=America/Cordoba America/Santa_Isabel=America/Tijuana ' +
  'America/Shiprock=America/Denver America/Thunder_Bay=America/Toronto America/Virgin=America/St_Thomas ' +
  'America/Yellowknife=America/Edmonton Antarctica/South_Pole=Antarctica/McMurdo Asia/Ashkhabad=Asia/Ashgabat ' +
  'Asia/Choibalsan=Asia/Ulaanbaatar Asia/Chongqing=Asia/Shanghai Asia/Chungking=Asia/Shanghai ' +
  'Asia/Dacca=Asia/Dhaka Asia/Harbin=Asia/Shanghai Asia/Ho_Chi_Minh=Asia/Saigon Asia/Istanbul=Europe/Istanbul ' +
  'Asia/Kashgar=Asia/Urumqi Asia/Kathmandu=Asia/Katmandu Asia/Kolkata=Asia/Calcutta Asia/Macao=Asia/Macau ' +
  'Asia/Tel_Aviv=Asia/Jerusalem Asia/Thimbu=Asia/Thimphu Asia/Ujung_Pandang=Asia/Makassar ' +
  'Asia/Ulan_Bator=Asia/Ulaanbaatar Asia/Yangon=Asia/Rangoon Atlantic/Faroe=Atlantic/Faeroe ' +
  'Atlantic/Jan_Mayen=Arctic/Longyearbyen Australia/ACT=Australia/Sydney Australia/Canberra=Australia/Sydney ' +
  'Australia/Currie=Australia/Hobart Australia/LHI=Australia/Lord_Howe Australia/NSW=Australia/Sydney ' +
  'Australia/North=Australia/Darwin Australia/Queensland=Australia/Brisbane Australia/South=Australia/Adelaide ' +
  'Australia/Tasmania=Australia/Hobart Australia/Victoria=Australia/Melbourne Australia/West=Australia/Perth ' +
  'Australia/Yancowinna=Australia/Broken_Hill Brazil/Acre=America/Rio_Branco Brazil/DeNoronha=America/Noronha ' +
  'Brazil/East=America/Sao_Paulo Brazil/West=America/Manaus CET=Europe/Brussels CST6CDT=America/Chicago ' +
  'Canada/Atlantic=America/Halifax Canada/Central=America/Winnipeg Canada/Eastern=America/Toronto ' +
  'Canada/Mountain=America/Edmonton Canada/Newfoundland=America/St_Johns Canada/Pacific=America/Vancouver ' +
  'Canada/Saskatchewan=America/Regina Canada/Yukon=America/Whitehorse Chile/Continental=America/Santiago ' +
  'Chile/EasterIsland=Pacific/Easter Cuba=America/Havana EET=Europe/Athens EST=America/Panama ' +
  'EST5EDT=America/New_York Egypt=Africa/Cairo Eire=Europe/Dublin Etc/GMT+0=UTC Etc/GMT-0=UTC Etc/GMT0=UTC ' +
  'Etc/Greenwich=UTC Europe/Belfast=Europe/London Europe/Kyiv=Europe/Kiev Europe/Nicosia=Asia/Nicosia ' +
  'Europe/Tiraspol=Europe/Chisinau Europe/Uzhgorod=Europe/Kiev Europe/Zaporozhye=Europe/Kiev GB=Europe/London ' +
  'GB-Eire=Europe/London GMT+0=UTC GMT-0=UTC GMT0=UTC Greenwich=UTC HST=Pacific/Honolulu Hongkong=Asia/Hong_Kong ' +
  'Iceland=Atlantic/Reykjavik Iran=Asia/Tehran Israel=Asia/Jerusalem Jamaica=America/Jamaica Japan=Asia/Tokyo ' +
  'Kwajalein=Pacific/Kwajalein Libya=Africa/Tripoli MET=Europe/Brussels MST=America/Phoenix ' +
  'MST7MDT=America/Denver Mexico/BajaNorte=America/Tijuana Mexico/BajaSur=America/Mazatlan ' +
  'Mexico/General=America/Mexico_City NZ=Pacific/Auckland NZ-CHAT=Pacific/Chatham Navajo=America/Denver ' +
  'PRC=Asia/Shanghai PST8PDT=America/Los_Angeles Pacific/Chuuk=Pacific/Truk Pacific/Johnston=Pacific/Honolulu ' +
  'Pacific/Kanton=Pacific/Enderbury Pacific/Pohnpei=Pacific/Ponape Pacific/Samoa=Pacific/Pago_Pago ' +
  'Pacific/Yap=Pacific/Truk Poland=Europe/Warsaw Portugal=Europe/Lisbon ROC=Asia/Taipei ROK=Asia/Seoul ' +
  'Singapore=Asia/Singapore Turkey=Europe/Istanbul US/Alaska=America/Anchorage US/Aleutian=America/Adak ' +
  'US/Arizona=America/Phoenix US/Central=America/Chicago US/East-Indiana=America/Indianapolis ' +
  'US/Eastern=America/New_York US/Hawaii=Pacific/Honolulu US/Indiana-Starke=America/Indiana/Knox ' +
  'US/Michigan=America/Detroit US/Mountain=America/Denver US/Pacific=America/Los_Angeles ' +
  'US/Samoa=Pacific/Pago_Pago W-SU=Europe/Moscow WET=Europe/Lisbon'
).split(' ').map((pair) => pair.split('=') as [string, string]));
