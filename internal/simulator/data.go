package simulator

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Domain vocabulary the simulated stores draw from. Contact data uses the example.com/.org/.net
// domains and made-up numbers.

var femaleNames = []string{"Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Zofia", "Julia", "Emma", "Sophie", "Laura", "Hanna", "Olivia"}

var maleNames = []string{"Piotr", "Krzysztof", "Tomasz", "Paweł", "Michał", "Jakub", "Lukas", "Jonas", "Oliver", "Thomas", "Mateusz", "Jan"}

var lastNames = []string{"Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński", "Müller", "Schmidt", "Smith", "Brown", "Dąbrowski", "Mazur", "Krawczyk"}

var mailDomains = []string{"example.com", "example.org", "example.net"}

type place struct {
	city, postal, province, country string
	streets                         []string
}

var places = []place{
	{"Wrocław", "50-", "dolnośląskie", "PL", []string{"Legnicka", "Świdnicka", "Grabiszyńska", "Powstańców Śląskich"}},
	{"Kraków", "30-", "małopolskie", "PL", []string{"Floriańska", "Karmelicka", "Długa", "Dietla"}},
	{"Warszawa", "00-", "mazowieckie", "PL", []string{"Marszałkowska", "Puławska", "Grójecka", "Targowa"}},
	{"Gdańsk", "80-", "pomorskie", "PL", []string{"Grunwaldzka", "Długa", "Kartuska"}},
	{"Berlin", "10", "Berlin", "DE", []string{"Torstraße", "Kastanienallee", "Sonnenallee"}},
	{"London", "SW1A ", "Greater London", "GB", []string{"Baker Street", "Camden Road", "King's Road"}},
}

type product struct {
	sku, name, category, maker string
	price                      units
	labels                     [][2]string
}

var products = []product{
	{"SKU-10012", "Trail running shoes", "shoes", "Stridex", 34999, [][2]string{{"color", "blue"}, {"size", "43"}}},
	{"SKU-10345", "Merino wool socks", "apparel", "Woolhaus", 4999, [][2]string{{"color", "grey"}}},
	{"SKU-20021", "Insulated water bottle 0.75 l", "accessories", "Hydra", 8999, nil},
	{"SKU-20310", "Rain jacket", "apparel", "Northpeak", 52900, [][2]string{{"color", "red"}, {"size", "M"}}},
	{"SKU-30007", "Espresso beans 1 kg", "grocery", "Caffè Rossi", 8450, [][2]string{{"roast", "dark"}}},
	{"SKU-30120", "Dark chocolate 70%", "grocery", "Cacao&Co", 1299, nil},
	{"SKU-40033", "Wireless earbuds", "electronics", "Sonique", 39900, [][2]string{{"color", "black"}}},
	{"SKU-40410", "USB-C charger 65 W", "electronics", "Voltra", 15900, nil},
	{"SKU-50002", "Yoga mat", "sport", "Asana", 12900, [][2]string{{"color", "green"}}},
	{"SKU-50115", "Cotton T-shirt", "apparel", "Basics", 5900, [][2]string{{"size", "L"}}},
}

var pointsComments = []string{"Goodwill bonus", "Customer service compensation", "Survey completed", "Review written", "Store opening bonus"}

var spendComments = []string{"Paid with points at checkout", "Points used in web shop", "Points redeemed at POS"}

var customAttributeChoices = [][2]string{
	{"favourite_store", "Wrocław Pasaż Grunwaldzki"}, {"favourite_store", "Kraków Galeria Krakowska"},
	{"newsletter_frequency", "weekly"}, {"newsletter_frequency", "monthly"},
	{"preferred_channel", "email"}, {"preferred_channel", "sms"}, {"pet", "dog"}, {"pet", "cat"},
}

// gen draws every random value of the simulation from one seeded source.
type gen struct{ r *rand.Rand }

func newGen(seed int64) gen {
	return gen{rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))}
}

func (g gen) intn(n int) int { return g.r.IntN(n) }

func (g gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// chance is true with probability p.
func (g gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g gen, xs []T) T { return xs[g.r.IntN(len(xs))] }

// uuid is a version 4 UUID drawn from the seeded source.
func (g gen) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

const (
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	// upperCode leaves out 0/O and 1/I, which people misread on coupons.
	upperCode = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	digits    = "0123456789"
	hexDigits = "0123456789abcdef"
)

func (g gen) chars(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g gen) couponCode() string {
	return "LH-" + g.chars(upperCode, 4) + "-" + g.chars(upperCode, 4)
}

func (g gen) hmacSecret() string {
	b := make([]byte, 24)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func (g gen) phone(country string) string {
	switch country {
	case "DE":
		return "+49151" + g.chars(digits, 8)
	case "GB":
		return "+447" + g.chars(digits, 9)
	}
	return "+48" + pick(g, []string{"5", "6", "7", "8"}) + g.chars(digits, 8)
}

type person struct {
	first, last, gender, email, phone string
	addr                              *address
}

func (g gen) person() person {
	p := person{last: pick(g, lastNames)}
	switch {
	case g.chance(0.48):
		p.first, p.gender = pick(g, femaleNames), "female"
		p.last = feminine(p.last)
	case g.chance(0.96):
		p.first, p.gender = pick(g, maleNames), "male"
	default:
		p.first, p.gender = pick(g, append(append([]string{}, femaleNames...), maleNames...)), "not_disclosed"
	}
	p.addr = g.address()
	p.email = g.email(p.first, p.last)
	p.phone = g.phone(p.addr.Country)
	return p
}

func (g gen) email(first, last string) string {
	local := asciiFold(strings.ToLower(first)) + "." + asciiFold(strings.ToLower(last))
	if g.chance(0.5) {
		local += g.chars(digits, 2)
	}
	return local + "@" + pick(g, mailDomains)
}

// feminine gives the feminine form of Polish surnames ending in -ski/-cki.
func feminine(last string) string {
	if strings.HasSuffix(last, "ski") || strings.HasSuffix(last, "cki") {
		return strings.TrimSuffix(last, "i") + "a"
	}
	return last
}

var fold = strings.NewReplacer("ą", "a", "ć", "c", "ę", "e", "ł", "l", "ń", "n", "ó", "o", "ś", "s", "ź", "z", "ż", "z", "ü", "ue", "ö", "oe", "ä", "ae", "ß", "ss")

func asciiFold(s string) string { return fold.Replace(s) }

// address is the member and customer address document of Open Loyalty.
type address struct {
	Street   string  `json:"street"`
	Address1 string  `json:"address1"`
	Address2 *string `json:"address2"`
	Postal   string  `json:"postal"`
	City     string  `json:"city"`
	Province string  `json:"province"`
	Country  string  `json:"country"`
}

func (g gen) address() *address {
	pl := pick(g, places)
	a := &address{
		Street:   pick(g, pl.streets),
		Address1: fmt.Sprint(g.between(1, 180)),
		City:     pl.city,
		Province: pl.province,
		Country:  pl.country,
	}
	switch pl.country {
	case "PL":
		a.Postal = pl.postal + g.chars(digits, 3)
	case "DE":
		a.Postal = pl.postal + g.chars(digits, 3)
	default:
		a.Postal = pl.postal + g.chars(digits, 1) + g.chars(upperCode, 2)
	}
	if g.chance(0.6) {
		a.Address2 = ptr(fmt.Sprint(g.between(1, 120)))
	}
	return a
}

// company is the member's company document; nip is the Polish tax id.
type company struct {
	Name string `json:"name"`
	NIP  string `json:"nip"`
}

func (g gen) company(last string) *company {
	return &company{Name: last + " " + pick(g, []string{"sp. z o.o.", "S.A.", "s.c.", "GmbH"}), NIP: g.chars(digits, 10)}
}

// keyValue is an entry of custom_attributes and of item labels.
type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}
