package testenv

import (
	"context"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// Mailpit keeps what its SMTP server receives and its API returns it per
// recipient: a message for another address is not among them.
func TestMailpitDelivers(t *testing.T) {
	m := Mailpit(t)
	to, other := RandomName("r-")+"@client.example", RandomName("o-")+"@client.example"
	send := func(to, body string) {
		msg := "From: gateway@firm.example\r\nTo: " + to + "\r\nSubject: code\r\n\r\n" + body + "\r\n"
		if err := smtp.SendMail(m.SMTPAddr, nil, "gateway@firm.example", []string{to}, []byte(msg)); err != nil {
			t.Fatalf("send to %s: %v", to, err)
		}
	}
	send(to, "your code is 123456")
	send(other, "your code is 654321")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := m.WaitMessages(ctx, to, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Subject != "code" || !strings.Contains(msgs[0].Text, "123456") ||
		len(msgs[0].To) != 1 || msgs[0].To[0] != to || msgs[0].From != "gateway@firm.example" {
		t.Fatalf("messages for %s: %+v, want the one with 123456", to, msgs)
	}
}
